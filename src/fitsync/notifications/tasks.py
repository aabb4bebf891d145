"""Notifications' scheduled jobs, run by the worker (``fitsync serve`` or ``worker``)."""

from __future__ import annotations

from fitsync.kernel.outbox import PeriodicJob
from fitsync.notifications import service
from fitsync.notifications.service import NotificationsRuntime


def jobs(rt: NotificationsRuntime, *, interval: float) -> list[PeriodicJob]:
    async def dispatch() -> int:
        return await service.dispatch_once(rt)

    async def cleanup() -> int:
        await service.cleanup(rt)
        return 0  # once an hour is plenty, even when there was much to remove

    return [
        PeriodicJob("notifications.dispatch", every=interval, run=dispatch),
        PeriodicJob("notifications.retention", every=3600.0, run=cleanup),
    ]
