"""What other contexts may use of billing: entitlement checks and booking fees.

Scheduling calls :func:`may_book` before it confirms a booking (in its own
transaction: a read). Consumption and refunds of allowances/credits happen when
billing sees ``booking.created`` / ``booking.cancelled`` (see handlers.py);
:func:`charge_no_show_fee` is the command for a no-show, which has no event yet.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import entitlements
from fitsync.billing.entitlements import Entitlement

__all__ = ["Entitlement", "charge_no_show_fee", "may_book"]


async def may_book(
    session: AsyncSession,
    *,
    gym_id: uuid.UUID,
    client_id: uuid.UUID,
    starts_at: datetime,
    class_type: str | None = None,
) -> Entitlement:
    """Whether the client has a plan allowance or a class credit for a session then."""
    return await entitlements.check(
        session, gym_id=gym_id, client_id=client_id, class_type=class_type, at=starts_at
    )


async def charge_no_show_fee(
    session: AsyncSession,
    *,
    gym_id: uuid.UUID,
    client_id: uuid.UUID,
    booking_id: uuid.UUID,
    at: datetime,
) -> uuid.UUID | None:
    """Invoice the gym's no-show fee once for this booking; the invoice id, or None (no fee)."""
    return await entitlements.charge_fee(
        session, gym_id=gym_id, client_id=client_id, booking_id=booking_id, kind="no_show", at=at
    )
