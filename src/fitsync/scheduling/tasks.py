"""Scheduling's jobs, run by the worker (``fitsync worker``, or inside ``serve``)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fitsync.kernel import clock, jobs
from fitsync.kernel.db import transaction
from fitsync.kernel.outbox import EventBus
from fitsync.scheduling import service

IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


@jobs.periodic("scheduling.reminders", every_seconds=15)
async def send_reminders(sessionmaker: async_sessionmaker[AsyncSession], _bus: EventBus) -> int:
    """One batch of due ``booking.reminder`` events (safe to run concurrently)."""
    async with transaction(sessionmaker, all_gyms=True) as session:
        return await service.send_due_reminders(session, now=clock.now())


@jobs.periodic("scheduling.idempotency-keys", every_seconds=600)
async def forget_idempotency_keys(
    sessionmaker: async_sessionmaker[AsyncSession], _bus: EventBus
) -> int:
    """Stored answers to POST /bookings are kept for a day."""
    async with transaction(sessionmaker, all_gyms=True) as session:
        await service.forget_idempotency_keys(session, older_than=clock.now() - IDEMPOTENCY_KEY_TTL)
    return 0
