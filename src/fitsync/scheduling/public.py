"""What other contexts may use of scheduling: read-only views of bookings."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.scheduling import service
from fitsync.scheduling.schemas import BookingOut as BookingInfo

__all__ = ["BookingInfo", "get_booking"]


async def get_booking(session: AsyncSession, booking_id: uuid.UUID) -> BookingInfo | None:
    """A booking of the transaction's gym (row-level security applies), or None."""
    return await service.find_booking(session, booking_id)
