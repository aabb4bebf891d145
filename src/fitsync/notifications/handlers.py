"""Notifications react to other contexts' events: each becomes planned deliveries."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel import outbox
from fitsync.notifications import domain, service


@outbox.consumer(service.CONSUMER, types=domain.EVENT_TYPES)
async def on_event(session: AsyncSession, event: outbox.Event) -> None:
    """Plan one delivery per recipient and channel (sent later by the dispatcher job)."""
    await service.plan(session, event)
