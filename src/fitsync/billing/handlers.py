"""Billing's reactions to scheduling's events (by name: billing does not import scheduling).

- ``booking.created`` (confirmed) and ``waitlist.promoted``: use up a plan allowance
  or a class credit for the booking (once per booking).
- ``booking.cancelled``: with ``late_cancel: true`` the use stands and the gym's
  late-cancellation fee is invoiced; otherwise the allowance or credit is given back.

Expected event data (docs/API.md's booking shape): ``id`` or ``booking_id``,
``client_id``, optionally ``class_type``/``class_id``, ``starts_at``, ``status``,
``late_cancel``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import entitlements, events
from fitsync.kernel import outbox

WAITLIST_PROMOTED = "waitlist.promoted"


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _time(value: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


@outbox.consumer(
    "billing.entitlements",
    types=[events.BOOKING_CREATED, events.BOOKING_CANCELLED, WAITLIST_PROMOTED],
)
async def on_booking(session: AsyncSession, event: outbox.Event) -> None:
    data = event.data
    booking_id = _uuid(data.get("booking_id") or data.get("id"))
    client_id = _uuid(data.get("client_id"))
    if event.gym_id is None or booking_id is None or client_id is None:
        return
    gym_id = uuid.UUID(str(event.gym_id))
    if event.type == events.BOOKING_CANCELLED:
        if data.get("late_cancel"):
            await entitlements.charge_fee(
                session,
                gym_id=gym_id,
                client_id=client_id,
                booking_id=booking_id,
                kind="late_cancel",
                at=event.occurred_at,
            )
        else:
            await entitlements.release(session, booking_id=booking_id)
        return
    if event.type == events.BOOKING_CREATED and data.get("status") == "waitlisted":
        return  # a waitlisted booking uses nothing until it is promoted
    at = _time(data.get("starts_at")) or event.occurred_at
    await entitlements.consume(
        session,
        gym_id=gym_id,
        client_id=client_id,
        booking_id=booking_id,
        class_type=data.get("class_type"),
        at=at,
    )
