"""Notifications' use cases: plan deliveries from events, send them, the inbox, settings.

Two steps keep sends exactly-once per (event, recipient, channel):

1. :func:`plan` runs inside the event consumer's transaction (which also records the
   event as processed): it writes one ``deliveries`` row per recipient and channel,
   unique on ``(event_id, recipient_id, channel)``. A redelivered event writes nothing.
2. :func:`dispatch_once` claims due rows (``FOR UPDATE SKIP LOCKED``, status
   ``sending`` with a lease, committed before anything is sent), sends them, then marks
   each ``sent``, ``skipped``, ``pending`` again with backoff, or ``dead`` after
   ``MAX_ATTEMPTS`` (and a dead letter ``fitsync events replay`` can revive).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import delete, func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fitsync.gyms import public as gyms
from fitsync.identity import public as identity
from fitsync.kernel import clock, live, outbox
from fitsync.kernel.auth import Principal
from fitsync.kernel.db import transaction
from fitsync.kernel.errors import Invalid, NotFound
from fitsync.kernel.pagination import PageParams, encode_cursor
from fitsync.kernel.redis import Keys
from fitsync.notifications import domain
from fitsync.notifications.channels import (
    EmailSender,
    Outgoing,
    PermanentError,
    PushSender,
    SmsSender,
    Subscription,
    SubscriptionGone,
    TransientError,
)
from fitsync.notifications.models import Delivery, InboxItem, Preference, PushSubscription
from fitsync.notifications.schemas import (
    NotificationOut,
    NotificationPage,
    PreferencesIn,
    PreferencesOut,
    PushSubscriptionOut,
    QuietHoursOut,
    ReadAllOut,
)
from fitsync.notifications.templates import Renderer

log = logging.getLogger("fitsync.notifications")

CONSUMER = "notifications"
LEASE = timedelta(minutes=2)
SEND_CONCURRENCY = 16
LIVE_CREATED = "notification.created"


@dataclass
class NotificationsRuntime:
    """What sending needs besides a database session; built by the composition root."""

    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    keys: Keys
    bus: outbox.EventBus
    renderer: Renderer
    email: EmailSender
    sms: SmsSender
    push: PushSender
    vapid_public_key: str
    public_url: str
    retention: timedelta
    is_online: Callable[[uuid.UUID], Awaitable[bool]] | None = None
    http: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()


# -- planning (the event consumer) ----------------------------------------------------


def _gym_doc(gym: gyms.GymInfo) -> dict[str, Any]:
    return {
        "id": str(gym.id),
        "name": gym.name,
        "timezone": gym.timezone,
        "primary_color": gym.branding.primary_color,
        "accent_color": gym.branding.accent_color,
        "logo_url": gym.branding.logo_url,
    }


def _quiet(doc: dict[str, Any]) -> domain.QuietHours | None:
    quiet = doc.get("quiet_hours")
    if not quiet:
        return None
    return domain.QuietHours(domain.parse_hhmm(quiet["start"]), domain.parse_hhmm(quiet["end"]))


async def plan(session: AsyncSession, event: outbox.Event) -> int:
    """Write the deliveries ``event`` calls for; returns how many are new."""
    spec = domain.SPECS.get(event.type)
    if spec is None or event.gym_id is None:
        return 0  # platform admins (no gym) get no notifications
    missing = domain.missing_fields(event.type, event.data)
    if missing:
        raise ValueError(f"{event.type} {event.id} lacks data field(s) {', '.join(missing)}")
    gym = await gyms.get_gym(session, event.gym_id)
    if gym is None:
        return 0
    now = clock.now()
    planned = 0
    for user_id in spec.recipients(event.data):
        user = await identity.get_user(session, user_id)
        if user is None or user.gym_id != event.gym_id or not user.is_active:
            continue  # unknown, another tenant's, or disabled: nobody to tell
        if event.type == "message.sent" and user_id == event.actor_id:
            continue
        pref = await session.get(Preference, user_id)
        doc = pref.doc if pref else {}
        quiet = _quiet(doc)
        context = {
            "event": {
                "id": str(event.id),
                "type": event.type,
                "occurred_at": event.occurred_at.isoformat(),
                "actor_id": str(event.actor_id) if event.actor_id else None,
            },
            "data": event.data,
            "user": {
                "id": str(user.id),
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
            },
            "gym": _gym_doc(gym),
            "locale": doc.get("locale") or "en",
            "phone": doc.get("phone"),
            "urgent": spec.urgent,
            "only_if_offline": spec.only_if_offline,
        }
        for channel in domain.effective_channels(event.type, doc.get("events") or {}):
            at = domain.send_at(
                now, channel=channel, urgent=spec.urgent, quiet=quiet, timezone=gym.timezone
            )
            values = insert(Delivery).values(
                gym_id=event.gym_id,
                event_id=event.id,
                event_type=event.type,
                recipient_id=user_id,
                channel=channel,
                status="pending",
                attempts=0,
                next_attempt_at=at,
                context=context,
            )
            # A replayed dead letter revives its dead deliveries; sent ones stay sent.
            stmt = values.on_conflict_do_update(
                index_elements=["event_id", "recipient_id", "channel"],
                set_={
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                    "last_error": None,
                    "context": context,
                },
                where=Delivery.status == "dead",
            ).returning(Delivery.id)
            if (await session.execute(stmt)).first() is not None:
                planned += 1
    return planned


# -- sending (the dispatcher job) -----------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    gym_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    recipient_id: uuid.UUID
    channel: str
    attempts: int
    context: dict[str, Any]
    subscriptions: tuple[Subscription, ...] = ()


@dataclass
class _Outcome:
    status: str  # sent | skipped | retry | dead
    detail: str | None = None
    gone: list[uuid.UUID] = field(default_factory=list)


def _links(rt: NotificationsRuntime, event_type: str, data: dict[str, Any]) -> dict[str, str]:
    base = rt.public_url.rstrip("/")
    paths = {
        "user.registered": "/",
        "booking.created": f"/bookings/{data.get('booking_id', '')}",
        "booking.cancelled": "/classes",
        "booking.reminder": f"/bookings/{data.get('booking_id', '')}",
        "waitlist.promoted": f"/bookings/{data.get('booking_id', '')}",
        "class.cancelled": "/classes",
        "program.assigned": f"/programs/{data.get('program_id', '')}",
        "achievement.earned": "/progress/achievements",
        "message.sent": f"/conversations/{data.get('conversation_id', '')}",
    }
    return {
        "app": base + "/",
        "action": base + paths.get(event_type, "/"),
        "preferences": base + "/settings/notifications",
    }


def _outgoing(rt: NotificationsRuntime, d: _Claimed) -> Outgoing:
    context = {**d.context, "links": _links(rt, d.event_type, d.context.get("data") or {})}
    gym = context.get("gym") or {}
    if str(gym.get("logo_url") or "").startswith("/"):  # a path on this site: absolute in mail
        context["gym"] = {**gym, "logo_url": rt.public_url.rstrip("/") + gym["logo_url"]}
    rendered = rt.renderer.render(d.event_type, str(context.get("locale") or "en"), context)
    return Outgoing(
        delivery_id=d.id,
        event_id=d.event_id,
        event_type=d.event_type,
        gym_id=d.gym_id,
        recipient_id=d.recipient_id,
        rendered=rendered,
        context=context,
    )


async def _store_in_app(rt: NotificationsRuntime, message: Outgoing) -> None:
    doc = {
        "title": message.rendered.title,
        "body": message.rendered.short,
        "data": {**(message.context.get("data") or {}), "url": message.action_url},
    }
    async with transaction(rt.sessionmaker, gym_id=message.gym_id) as session:
        row = (
            await session.execute(
                insert(InboxItem)
                .values(
                    gym_id=message.gym_id,
                    user_id=message.recipient_id,
                    delivery_id=message.delivery_id,
                    type=message.event_type,
                    doc=doc,
                )
                .on_conflict_do_nothing(index_elements=["delivery_id"])
                .returning(InboxItem.id, InboxItem.created_at)
            )
        ).first()
    if row is not None:
        await live.publish(
            rt.redis,
            rt.keys,
            [message.recipient_id],
            LIVE_CREATED,
            {
                "id": str(row.id),
                "type": message.event_type,
                **doc,
                "read_at": None,
                "created_at": row.created_at.isoformat(),
            },
        )


async def _send_push(rt: NotificationsRuntime, message: Outgoing, d: _Claimed) -> _Outcome:
    subscriptions = d.subscriptions  # read when the delivery was claimed
    if not subscriptions:
        return _Outcome("skipped", "no push subscription")
    sent, gone, transient = 0, [], None
    for sub in subscriptions:
        try:
            await rt.push.send_push(message, sub)
            sent += 1
        except SubscriptionGone:
            gone.append(sub.id)
        except TransientError as exc:
            transient = str(exc)
        except PermanentError as exc:
            log.warning("push to subscription %s refused: %s", sub.id, exc)
    if sent:
        return _Outcome("sent", f"{sent} device(s)", gone)
    if transient:
        return _Outcome("retry", transient, gone)
    return _Outcome("skipped", "no working push subscription", gone)


async def _send(rt: NotificationsRuntime, d: _Claimed) -> _Outcome:
    try:
        offline_only = d.context.get("only_if_offline") and rt.is_online is not None
        if offline_only and rt.is_online is not None and await rt.is_online(d.recipient_id):
            return _Outcome("skipped", "recipient online")
        message = _outgoing(rt, d)
        if d.channel == domain.IN_APP:
            await _store_in_app(rt, message)
            return _Outcome("sent")
        if d.channel == domain.EMAIL:
            if not message.user.get("email"):
                return _Outcome("skipped", "no email address")
            return _Outcome("sent", await rt.email.send_email(message))
        if d.channel == domain.SMS:
            phone = d.context.get("phone")
            if not phone:
                return _Outcome("skipped", "no phone number")
            return _Outcome("sent", await rt.sms.send_sms(message, to=str(phone)))
        if d.channel == domain.PUSH:
            return await _send_push(rt, message, d)
        return _Outcome("dead", f"unknown channel {d.channel}")
    except TransientError as exc:
        return _Outcome("retry", str(exc))
    except PermanentError as exc:
        return _Outcome("dead", str(exc))
    except Exception as exc:  # a template or a bug: never lose the delivery silently
        log.exception("delivery %s failed", d.id)
        return _Outcome("retry", f"{type(exc).__name__}: {exc}")


async def _claim(rt: NotificationsRuntime, now: datetime, batch: int) -> list[_Claimed]:
    async with transaction(rt.sessionmaker, all_gyms=True) as session:
        rows = (
            (
                await session.execute(
                    select(Delivery)
                    .where(
                        or_(
                            (Delivery.status == "pending") & (Delivery.next_attempt_at <= now),
                            (Delivery.status == "sending") & (Delivery.lease_until < now),
                        )
                    )
                    .order_by(Delivery.next_attempt_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        pushing = [row.recipient_id for row in rows if row.channel == domain.PUSH]
        devices: dict[uuid.UUID, list[Subscription]] = {}
        if pushing:
            found = await session.execute(
                select(PushSubscription).where(PushSubscription.user_id.in_(pushing))
            )
            for sub in found.scalars():
                devices.setdefault(sub.user_id, []).append(
                    Subscription(id=sub.id, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth)
                )
        claimed = []
        for row in rows:
            row.status = "sending"
            row.attempts += 1
            row.lease_until = now + LEASE
            claimed.append(
                _Claimed(
                    id=row.id,
                    gym_id=row.gym_id,
                    event_id=row.event_id,
                    event_type=row.event_type,
                    recipient_id=row.recipient_id,
                    channel=row.channel,
                    attempts=row.attempts,
                    context=row.context,
                    subscriptions=tuple(devices.get(row.recipient_id, ())),
                )
            )
        return claimed


def _as_event(d: _Claimed) -> outbox.Event:
    meta = d.context.get("event") or {}
    actor = meta.get("actor_id")
    return outbox.Event(
        id=d.event_id,
        type=d.event_type,
        gym_id=d.gym_id,
        actor_id=uuid.UUID(actor) if actor else None,
        occurred_at=datetime.fromisoformat(meta["occurred_at"])
        if meta.get("occurred_at")
        else clock.now(),
        data=d.context.get("data") or {},
    )


async def dispatch_once(rt: NotificationsRuntime, *, batch: int = 200) -> int:
    """Send the deliveries that are due; returns how many were tried."""
    now = clock.now()
    claimed = await _claim(rt, now, batch)
    if not claimed:
        return 0
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(d: _Claimed) -> _Outcome:
        async with gate:
            return await _send(rt, d)

    outcomes = await asyncio.gather(*(one(d) for d in claimed))
    dead: list[tuple[_Claimed, str]] = []
    rows: list[dict[str, Any]] = []
    gone: list[uuid.UUID] = []
    for d, outcome in zip(claimed, outcomes, strict=True):
        status, next_at, sent_at = outcome.status, now, None
        if status == "retry" and d.attempts >= domain.MAX_ATTEMPTS:
            status = "dead"
        if status in ("sent", "skipped"):
            sent_at = clock.now()
        elif status == "retry":
            status, next_at = "pending", now + domain.retry_delay(d.attempts)
            log.warning(
                "%s of %s to %s failed (try %d), retrying: %s",
                d.channel,
                d.event_type,
                d.recipient_id,
                d.attempts,
                outcome.detail,
            )
        else:
            dead.append((d, outcome.detail or "failed"))
        rows.append(
            {
                "id": d.id,
                "status": status,
                "next_attempt_at": next_at,
                "sent_at": sent_at,
                "lease_until": None,
                "last_error": outcome.detail,
            }
        )
        gone += outcome.gone
    async with transaction(rt.sessionmaker, all_gyms=True) as session:
        await session.execute(update(Delivery), rows)  # one executemany by primary key
        if gone:
            await session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
    for d, error in dead:
        await outbox.dead_letter(
            rt.bus,
            consumer_name=CONSUMER,
            event=_as_event(d),
            error=f"{d.channel} to {d.recipient_id} after {d.attempts} tries: {error}",
        )
    return len(claimed)


async def cleanup(rt: NotificationsRuntime, *, batch: int = 5000) -> int:
    """The retention policy: drop inbox items, finished deliveries and dev-outbox rows
    older than ``rt.retention``; returns how many rows went."""
    cutoff = clock.now() - rt.retention
    removed = 0
    async with transaction(rt.sessionmaker, all_gyms=True) as session:
        for table, extra in (
            ("notifications.inbox", ""),
            ("notifications.dev_outbox", ""),
            ("notifications.deliveries", " AND status IN ('sent', 'skipped', 'dead')"),
        ):
            result = await session.execute(
                text(
                    f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table}"
                    f" WHERE created_at < :cutoff{extra} LIMIT :n)"
                ),
                {"cutoff": cutoff, "n": batch},
            )
            removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


# -- preferences ----------------------------------------------------------------------


def _preferences_out(doc: dict[str, Any], timezone: str | None) -> PreferencesOut:
    chosen = doc.get("events") or {}
    quiet = doc.get("quiet_hours")
    return PreferencesOut(
        events={t: domain.effective_channels(t, chosen) for t in domain.EVENT_TYPES},
        quiet_hours=QuietHoursOut(**quiet) if quiet else None,
        locale=doc.get("locale") or "en",
        phone=doc.get("phone"),
        timezone=timezone,
    )


async def _timezone(session: AsyncSession, principal: Principal) -> str | None:
    if principal.gym_id is None:
        return None
    gym = await gyms.get_gym(session, principal.gym_id)
    return gym.timezone if gym else None


async def get_preferences(session: AsyncSession, *, principal: Principal) -> PreferencesOut:
    pref = await session.get(Preference, principal.user_id)
    return _preferences_out(pref.doc if pref else {}, await _timezone(session, principal))


async def put_preferences(
    session: AsyncSession, *, principal: Principal, body: PreferencesIn
) -> PreferencesOut:
    doc = body.model_dump(mode="json")
    stmt = insert(Preference).values(
        user_id=principal.user_id, gym_id=principal.gym_id, doc=doc, updated_at=clock.now()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"], set_={"doc": doc, "updated_at": clock.now()}
    )
    await session.execute(stmt)
    return _preferences_out(doc, await _timezone(session, principal))


# -- push subscriptions ---------------------------------------------------------------


async def add_push_subscription(
    session: AsyncSession,
    *,
    principal: Principal,
    endpoint: str,
    p256dh: str,
    auth: str,
    user_agent: str | None,
) -> tuple[PushSubscriptionOut, bool]:
    """Store a device's subscription; the same endpoint again updates its keys."""
    values = insert(PushSubscription).values(
        gym_id=principal.gym_id,
        user_id=principal.user_id,
        endpoint=endpoint,
        p256dh=p256dh,
        auth=auth,
        user_agent=(user_agent or "")[:400] or None,
    )
    stmt = values.on_conflict_do_update(
        index_elements=["user_id", "endpoint"], set_={"p256dh": p256dh, "auth": auth}
    ).returning(
        PushSubscription.id,
        PushSubscription.endpoint,
        PushSubscription.created_at,
        (PushSubscription.created_at == func.now()).label("created"),
    )
    row = (await session.execute(stmt)).one()
    return PushSubscriptionOut(id=row.id, endpoint=row.endpoint, created_at=row.created_at), bool(
        row.created
    )


async def delete_push_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID
) -> None:
    result = await session.execute(
        delete(PushSubscription)
        .where(
            PushSubscription.id == subscription_id,
            PushSubscription.user_id == principal.user_id,
        )
        .returning(PushSubscription.id)
    )
    if result.first() is None:
        raise NotFound("No such push subscription")


async def push_devices(session: AsyncSession, *, principal: Principal) -> int:
    """How many devices (push subscriptions) the caller has."""
    found = await session.scalar(
        select(func.count())
        .select_from(PushSubscription)
        .where(PushSubscription.user_id == principal.user_id)
    )
    return int(found or 0)


async def forget_push_endpoint(
    session: AsyncSession, *, principal: Principal, endpoint: str
) -> bool:
    """Remove the caller's subscription of one device (the browser knows its endpoint)."""
    result = await session.execute(
        delete(PushSubscription)
        .where(PushSubscription.user_id == principal.user_id, PushSubscription.endpoint == endpoint)
        .returning(PushSubscription.id)
    )
    return result.first() is not None


# -- the inbox ------------------------------------------------------------------------


def _item_out(item: InboxItem) -> NotificationOut:
    return NotificationOut(
        id=item.id,
        type=item.type,
        title=str(item.doc.get("title", "")),
        body=str(item.doc.get("body", "")),
        data=dict(item.doc.get("data") or {}),
        read_at=item.read_at,
        created_at=item.created_at,
    )


async def _unread(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(InboxItem)
            .where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
        )
        or 0
    )


async def list_inbox(
    session: AsyncSession,
    *,
    principal: Principal,
    page: PageParams,
    unread_only: bool = False,
    type_: str | None = None,
) -> NotificationPage:
    """Newest first, keyset-paged on (created_at, id)."""
    query = (
        select(InboxItem)
        .where(InboxItem.user_id == principal.user_id)
        .order_by(InboxItem.created_at.desc(), InboxItem.id.desc())
        .limit(page.limit + 1)
    )
    if unread_only:
        query = query.where(InboxItem.read_at.is_(None))
    if type_:
        query = query.where(InboxItem.type == type_)
    if page.after:
        try:
            after = (datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1]))
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        query = query.where(tuple_(InboxItem.created_at, InboxItem.id) < after)
    items = list((await session.execute(query)).scalars())
    more = len(items) > page.limit
    items = items[: page.limit]
    cursor = encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)]) if more else None
    return NotificationPage(
        items=[_item_out(i) for i in items],
        next_cursor=cursor,
        unread=await _unread(session, principal.user_id),
    )


async def mark_read(
    session: AsyncSession, *, principal: Principal, notification_id: uuid.UUID
) -> NotificationOut:
    item = (
        await session.execute(
            select(InboxItem).where(
                InboxItem.id == notification_id, InboxItem.user_id == principal.user_id
            )
        )
    ).scalar_one_or_none()
    if item is None:
        raise NotFound("No such notification")
    if item.read_at is None:
        item.read_at = clock.now()
        await session.flush()
    return _item_out(item)


async def mark_all_read(session: AsyncSession, *, principal: Principal) -> ReadAllOut:
    result = await session.execute(
        update(InboxItem)
        .where(InboxItem.user_id == principal.user_id, InboxItem.read_at.is_(None))
        .values(read_at=clock.now())
    )
    return ReadAllOut(updated=int(getattr(result, "rowcount", 0) or 0), unread=0)
