"""Scheduled jobs: small functions the worker runs every few seconds.

A context registers a job in its ``tasks`` module with :func:`periodic`. A job takes
the sessionmaker and the event bus, does one batch of due work in its own
transactions and returns how much it did; it must be safe to run twice at once
(several workers), typically by claiming rows with ``FOR UPDATE SKIP LOCKED`` and
marking them done in the same transaction as the effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from fitsync.kernel.outbox import EventBus

log = logging.getLogger("fitsync.jobs")

JobFn = Callable[[async_sessionmaker[AsyncSession], "EventBus"], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    run: JobFn


_registry: dict[str, Job] = {}


def periodic(name: str, *, every_seconds: float) -> Callable[[JobFn], JobFn]:
    """Register ``fn`` as job ``name``, run every ``every_seconds`` (at once again while
    it reports work done)."""

    def register(fn: JobFn) -> JobFn:
        _registry[name] = Job(name=name, every_seconds=every_seconds, run=fn)
        return fn

    return register


def jobs() -> list[Job]:
    return list(_registry.values())


async def run_job(sessionmaker: async_sessionmaker[AsyncSession], bus: EventBus, job: Job) -> None:
    """Run ``job`` until cancelled; store outages pause it."""
    while True:
        try:
            done = await job.run(sessionmaker, bus)
        except (RedisError, SQLAlchemyError, OSError) as exc:
            log.warning("job %s paused: %s", job.name, exc)
            done = 0
        if done:
            bus.wake()
            continue
        await asyncio.sleep(job.every_seconds)
