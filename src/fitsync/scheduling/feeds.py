"""Secret iCalendar feeds (RFC 5545) of a user's bookings and sessions.

The feed token is ``base64url(user_id ‖ version ‖ HMAC-SHA256(secret, …)[:18])``:
nothing secret is stored, a forged or altered token fails the MAC check, and
rotating bumps ``version`` so every older token stops working. Events have stable
UIDs (``booking-<id>`` for a client's seat, ``session-<id>`` for a trainer's
session), a SEQUENCE that grows with every change, STATUS:CANCELLED once
cancelled, and times in the gym's time zone with its VTIMEZONE.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.gyms import public as gyms
from fitsync.kernel import clock
from fitsync.kernel.auth import Principal
from fitsync.kernel.db import set_tenant
from fitsync.kernel.errors import NotFound
from fitsync.scheduling.models import Booking, CalendarFeed, TrainingSession
from fitsync.scheduling.schemas import CalendarOut

PAST = timedelta(days=90)
MAX_EVENTS = 2000
_MAC_BYTES = 18
_STATUS = {
    "confirmed": "CONFIRMED",
    "attended": "CONFIRMED",
    "no_show": "CONFIRMED",
    "waitlisted": "TENTATIVE",
    "cancelled": "CANCELLED",
}


def _mac(secret: str, user_id: uuid.UUID, version: int) -> bytes:
    message = b"calendar-feed:" + user_id.bytes + version.to_bytes(4, "big")
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(secret: str, user_id: uuid.UUID, version: int) -> str:
    raw = user_id.bytes + version.to_bytes(4, "big") + _mac(secret, user_id, version)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(secret: str, token: str) -> tuple[uuid.UUID, int] | None:
    """``(user_id, version)`` of an authentic token, else None."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error):
        return None
    if len(raw) != 16 + 4 + _MAC_BYTES:
        return None
    user_id, version = uuid.UUID(bytes=raw[:16]), int.from_bytes(raw[16:20], "big")
    if not hmac.compare_digest(raw[20:], _mac(secret, user_id, version)):
        return None
    return user_id, version


def _feed_out(secret: str, public_url: str, user_id: uuid.UUID, version: int) -> CalendarOut:
    token = make_token(secret, user_id, version)
    return CalendarOut(url=f"{public_url.rstrip('/')}/api/v1/calendar/{token}.ics", token=token)


async def my_feed(
    session: AsyncSession, *, principal: Principal, secret: str, public_url: str
) -> CalendarOut:
    await session.execute(
        pg_insert(CalendarFeed)
        .values(user_id=principal.user_id, gym_id=principal.gym_id, rotated_at=clock.now())
        .on_conflict_do_nothing()
    )
    version = await session.scalar(
        select(CalendarFeed.version).where(CalendarFeed.user_id == principal.user_id)
    )
    assert version is not None
    return _feed_out(secret, public_url, principal.user_id, version)


async def rotate_feed(
    session: AsyncSession, *, principal: Principal, secret: str, public_url: str
) -> CalendarOut:
    """A new token; the old one stops working at once."""
    statement = pg_insert(CalendarFeed).values(
        user_id=principal.user_id, gym_id=principal.gym_id, version=2, rotated_at=clock.now()
    )
    version = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[CalendarFeed.user_id],
            set_={"version": CalendarFeed.version + 1, "rotated_at": clock.now()},
        ).returning(CalendarFeed.version)
    )
    assert version is not None
    return _feed_out(secret, public_url, principal.user_id, version)


async def render_feed(session: AsyncSession, *, secret: str, token: str) -> bytes:
    """The feed of the token's user; 404 for an unknown, forged or rotated-out token."""
    found = read_token(secret, token)
    if found is None:
        raise NotFound("No such calendar")
    user_id, version = found
    await set_tenant(session, None, all_gyms=True)  # the token is the credential
    feed = await session.get(CalendarFeed, user_id)
    if feed is None or feed.version != version:
        raise NotFound("No such calendar")
    await set_tenant(session, feed.gym_id)
    gym = await gyms.get_gym(session, feed.gym_id) if feed.gym_id else None
    tz = ZoneInfo(gym.timezone) if gym else ZoneInfo("UTC")
    since = clock.now() - PAST

    cal = icalendar.Calendar()
    cal.add("prodid", "-//FitSync//Scheduling//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"FitSync{' - ' + gym.name if gym else ''}")
    cal.add("x-wr-timezone", tz.key)

    seats = await session.execute(
        select(Booking, TrainingSession)
        .join(TrainingSession, TrainingSession.id == Booking.session_id)
        .where(Booking.client_id == user_id, TrainingSession.starts_at >= since)
        .order_by(TrainingSession.starts_at)
        .limit(MAX_EVENTS)
    )
    starts: list[datetime] = []
    for booking, row in seats:
        status = "cancelled" if row.status == "cancelled" else booking.status
        cal.add_component(
            _event(
                uid=f"booking-{booking.id}@fitsync",
                row=row,
                tz=tz,
                status=_STATUS[status],
                sequence=booking.sequence + row.sequence,
                stamp=max(booking.updated_at, row.updated_at),
                note="On the waitlist" if status == "waitlisted" else None,
            )
        )
        starts.append(row.starts_at)
    taught = await session.execute(
        select(TrainingSession)
        .where(TrainingSession.trainer_id == user_id, TrainingSession.starts_at >= since)
        .order_by(TrainingSession.starts_at)
        .limit(MAX_EVENTS)
    )
    for row in taught.scalars():
        note = f"{row.booked}/{row.capacity} booked" if row.kind == "class" else None
        cal.add_component(
            _event(
                uid=f"session-{row.id}@fitsync",
                row=row,
                tz=tz,
                status=_STATUS["cancelled" if row.status == "cancelled" else "confirmed"],
                sequence=row.sequence,
                stamp=row.updated_at,
                note=note,
            )
        )
        starts.append(row.starts_at)
    if starts:
        cal.add_missing_timezones(
            first_date=min(starts).date() - timedelta(days=1),
            last_date=max(starts).date() + timedelta(days=1),
        )
    return bytes(cal.to_ical())


def _event(
    *,
    uid: str,
    row: TrainingSession,
    tz: ZoneInfo,
    status: str,
    sequence: int,
    stamp: datetime,
    note: str | None,
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("last-modified", stamp.astimezone(UTC))
    event.add("dtstart", row.starts_at.astimezone(tz))
    event.add("dtend", row.ends_at.astimezone(tz))
    event.add("summary", row.title)
    event.add("status", status)
    event.add("sequence", sequence)
    if row.location:
        event.add("location", row.location)
    if note:
        event.add("description", note)
    return event
