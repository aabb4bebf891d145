"""The transactional outbox, its relay to Redis Streams, and a small consumer API.

1. A service calls :func:`add` inside the transaction that changes state: the event
   row commits or rolls back with the change.
2. :func:`relay_once` moves unpublished rows, oldest first, onto the Redis stream
   and marks them published. If Redis is down the rows wait; a crash between the
   XADD and the UPDATE publishes an event twice, which consumers absorb.
3. Each :class:`Consumer` is a Redis consumer group. :func:`consume_once` applies
   an event and records ``(consumer, event_id)`` in ``kernel.processed_events`` in
   the same transaction, then acknowledges: a redelivered event is a no-op.
   An event whose handler keeps failing is retried (pending entries are reclaimed
   after ``RETRY_IDLE_MS``) and, after ``MAX_DELIVERIES``, moved to a dead-letter
   stream an operator can inspect (:func:`dead_letters`) and replay (:func:`replay`).
4. :func:`status` is the operator's view: outbox backlog, lag per consumer group,
   dead letters (``fitsync events status``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import BigInteger, Index, String, insert, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel import clock, jobs
from fitsync.kernel.db import Base, transaction
from fitsync.kernel.redis import Keys

log = logging.getLogger("fitsync.events")

MAX_DELIVERIES = 5
RETRY_IDLE_MS = 30_000
STREAM_MAXLEN = 1_000_000


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
        {"schema": "kernel"},
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True)
    type: Mapped[str] = mapped_column(String(100))
    gym_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_at: Mapped[datetime | None]


class ProcessedEvent(Base):
    __tablename__ = "processed_events"
    __table_args__ = {"schema": "kernel"}

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime]


@dataclass(frozen=True)
class Event:
    """``{id, type, occurred_at, gym_id, actor_id, data}`` as ARCHITECTURE.md names it."""

    type: str
    data: dict[str, Any]
    gym_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=clock.now)

    def to_fields(self) -> dict[str, str]:
        return {
            "id": str(self.id),
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "gym_id": str(self.gym_id) if self.gym_id else "",
            "actor_id": str(self.actor_id) if self.actor_id else "",
            "data": json.dumps(self.data, default=str),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Event:
        return cls(
            id=uuid.UUID(fields["id"]),
            type=fields["type"],
            occurred_at=datetime.fromisoformat(fields["occurred_at"]),
            gym_id=uuid.UUID(fields["gym_id"]) if fields.get("gym_id") else None,
            actor_id=uuid.UUID(fields["actor_id"]) if fields.get("actor_id") else None,
            data=json.loads(fields["data"]),
        )


async def add(session: AsyncSession, event: Event) -> None:
    """Write ``event`` in the caller's transaction; it is published after commit."""
    await session.execute(
        insert(OutboxRow).values(
            id=event.id,
            type=event.type,
            gym_id=event.gym_id,
            actor_id=event.actor_id,
            occurred_at=event.occurred_at,
            data=json.loads(json.dumps(event.data, default=str)),
        )
    )
    session.info["outbox_added"] = True


class EventBus:
    """Where events go once committed: a Redis stream plus its dead-letter stream."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.stream = keys("events")
        self.dead_letters = keys("events", "dead")
        self.wakeup = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that added events, so the relay does not wait."""
        self.wakeup.set()


async def relay_once(
    sessionmaker: async_sessionmaker[AsyncSession], bus: EventBus, *, batch: int = 500
) -> int:
    """Publish up to ``batch`` unpublished events; returns how many were published."""
    async with transaction(sessionmaker, all_gyms=True) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT seq, id, type, gym_id, actor_id, occurred_at, data FROM kernel.outbox"
                    " WHERE published_at IS NULL ORDER BY seq LIMIT :n FOR UPDATE SKIP LOCKED"
                ),
                {"n": batch},
            )
        ).all()
        if not rows:
            return 0
        async with bus.redis.pipeline(transaction=False) as pipe:
            for row in rows:
                event = Event(
                    id=row.id,
                    type=row.type,
                    gym_id=row.gym_id,
                    actor_id=row.actor_id,
                    occurred_at=row.occurred_at,
                    data=row.data,
                )
                pipe.xadd(
                    bus.stream,
                    event.to_fields(),  # type: ignore[arg-type]
                    maxlen=STREAM_MAXLEN,
                    approximate=True,
                )
            await pipe.execute()
        await session.execute(
            text("UPDATE kernel.outbox SET published_at = now() WHERE seq = ANY(:seqs)"),
            {"seqs": [row.seq for row in rows]},
        )
        return len(rows)


Handler = Callable[[AsyncSession, Event], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    """A named reaction to some event types; its name is its consumer group."""

    name: str
    types: frozenset[str]
    handler: Handler


_registry: dict[str, Consumer] = {}


def consumer(name: str, types: Iterable[str]) -> Callable[[Handler], Handler]:
    """Register ``handler`` as consumer ``name`` of the given event types."""

    def register(handler: Handler) -> Handler:
        _registry[name] = Consumer(name=name, types=frozenset(types), handler=handler)
        return handler

    return register


def consumers() -> list[Consumer]:
    return list(_registry.values())


async def ensure_group(bus: EventBus, name: str) -> None:
    try:
        await bus.redis.xgroup_create(bus.stream, name, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def _apply(
    sessionmaker: async_sessionmaker[AsyncSession], cons: Consumer, event: Event
) -> None:
    async with transaction(sessionmaker, all_gyms=True) as session:
        fresh = await session.execute(
            text(
                "INSERT INTO kernel.processed_events (consumer, event_id, processed_at)"
                " VALUES (:c, :e, now()) ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            {"c": cons.name, "e": event.id},
        )
        if fresh.first() is None:
            return  # applied before: a redelivery
        await cons.handler(session, event)


async def consume_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    bus: EventBus,
    cons: Consumer,
    *,
    block_ms: int | None = None,
    count: int = 100,
    retry_idle_ms: int = RETRY_IDLE_MS,
) -> int:
    """Handle new and stalled entries for ``cons``; returns how many were handled."""
    await ensure_group(bus, cons.name)
    worker = f"{os.getpid()}"
    entries: list[tuple[str, dict[str, str]]] = []
    claimed: Any = await bus.redis.xautoclaim(
        bus.stream, cons.name, worker, min_idle_time=retry_idle_ms, count=count
    )
    entries.extend(e for e in claimed[1] if e[1])  # deleted entries come back empty
    if not entries:
        fresh: Any = await bus.redis.xreadgroup(
            cons.name, worker, {bus.stream: ">"}, count=count, block=block_ms
        )
        for _stream, items in fresh or []:
            entries.extend(items)
    handled = 0
    done: list[str] = []
    for entry_id, fields in entries:
        event = Event.from_fields(fields)
        if event.type in cons.types:
            try:
                await _apply(sessionmaker, cons, event)
            except Exception as exc:
                log.exception(
                    "consumer %s failed on event %s (%s)", cons.name, event.id, event.type
                )
                error = f"{type(exc).__name__}: {exc}"
                await _maybe_dead_letter(bus, cons, entry_id, fields, error)
                continue
            handled += 1
        done.append(entry_id)
    if done:  # one round trip for the batch; a crash before it redelivers no-ops
        await bus.redis.xack(bus.stream, cons.name, *done)
    return handled


async def _maybe_dead_letter(
    bus: EventBus, cons: Consumer, entry_id: str, fields: dict[str, str], error: str
) -> None:
    pending: Any = await bus.redis.xpending_range(
        bus.stream, cons.name, min=entry_id, max=entry_id, count=1
    )
    deliveries = int(pending[0]["times_delivered"]) if pending else 1
    if deliveries >= MAX_DELIVERIES:
        await _add_dead_letter(bus, cons.name, fields, error)
        await bus.redis.xack(bus.stream, cons.name, entry_id)
        log.error("event %s moved to dead letters after %d tries", fields.get("id"), deliveries)


async def _add_dead_letter(
    bus: EventBus, consumer_name: str, fields: dict[str, str], error: str
) -> str:
    dead: dict[Any, Any] = {
        **fields,
        "consumer": consumer_name,
        "error": error[:1000],
        "failed_at": clock.now().isoformat(),
    }
    return str(await bus.redis.xadd(bus.dead_letters, dead))


async def dead_letter(bus: EventBus, *, consumer_name: str, event: Event, error: str) -> str:
    """Give up on ``event`` for ``consumer_name`` after retries of its own (e.g. a send).

    Replaying the dead letter redelivers the event to that consumer as if new.
    """
    log.error("event %s dead-lettered for %s: %s", event.id, consumer_name, error)
    return await _add_dead_letter(bus, consumer_name, event.to_fields(), error)


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str
    consumer: str
    event: Event
    error: str
    failed_at: str


async def dead_letters(bus: EventBus, *, count: int = 100) -> list[DeadLetter]:
    """The newest dead letters first."""
    entries: Any = await bus.redis.xrevrange(bus.dead_letters, count=count)
    return [
        DeadLetter(
            entry_id=entry_id,
            consumer=fields.get("consumer", ""),
            event=Event.from_fields(fields),
            error=fields.get("error", ""),
            failed_at=fields.get("failed_at", ""),
        )
        for entry_id, fields in entries
    ]


async def replay(
    sessionmaker: async_sessionmaker[AsyncSession], bus: EventBus, entry_id: str
) -> DeadLetter | None:
    """Deliver a dead-lettered event again; its consumer handles it as if new.

    The consumer's idempotency record is forgotten so that it runs again; every other
    consumer group sees the event too and skips it (it has applied it before).
    Returns None when there is no such dead letter.
    """
    entries: Any = await bus.redis.xrange(bus.dead_letters, min=entry_id, max=entry_id)
    if not entries:
        return None
    fields = dict(entries[0][1])
    consumer_name = fields.pop("consumer", "")
    fields.pop("error", None)
    fields.pop("failed_at", None)
    letter = DeadLetter(entry_id, consumer_name, Event.from_fields(fields), "", "")
    async with transaction(sessionmaker, all_gyms=True) as session:
        await session.execute(
            text("DELETE FROM kernel.processed_events WHERE consumer = :c AND event_id = :e"),
            {"c": consumer_name, "e": letter.event.id},
        )
    await bus.redis.xadd(bus.stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
    await bus.redis.xdel(bus.dead_letters, entry_id)
    log.warning("dead letter %s replayed (event %s)", entry_id, letter.event.id)
    return letter


@dataclass(frozen=True)
class GroupStatus:
    name: str
    lag: int | None  # entries not yet read by the group (None: Redis could not tell)
    pending: int  # read but not acknowledged
    consumers: int


@dataclass(frozen=True)
class BusStatus:
    outbox_unpublished: int
    oldest_unpublished_s: float | None
    stream_length: int
    groups: list[GroupStatus]
    dead_letters: int


async def status(sessionmaker: async_sessionmaker[AsyncSession], bus: EventBus) -> BusStatus:
    """Outbox backlog, consumer-group lag and dead letters (``fitsync events status``)."""
    async with transaction(sessionmaker, all_gyms=True) as session:
        row = (
            await session.execute(
                text(
                    "SELECT count(*) AS n, extract(epoch FROM now() - min(occurred_at)) AS age"
                    " FROM kernel.outbox WHERE published_at IS NULL"
                )
            )
        ).one()
    groups: list[GroupStatus] = []
    length = int(await bus.redis.xlen(bus.stream))
    if length or await bus.redis.exists(bus.stream):
        info: Any = await bus.redis.xinfo_groups(bus.stream)
        for group in info:
            lag = group.get("lag")
            groups.append(
                GroupStatus(
                    name=str(group["name"]),
                    lag=int(lag) if lag is not None else None,
                    pending=int(group["pending"]),
                    consumers=int(group["consumers"]),
                )
            )
    return BusStatus(
        outbox_unpublished=int(row.n),
        oldest_unpublished_s=float(row.age) if row.age is not None else None,
        stream_length=length,
        groups=sorted(groups, key=lambda g: g.name),
        dead_letters=int(await bus.redis.xlen(bus.dead_letters)),
    )


@dataclass(frozen=True)
class PeriodicJob:
    """Work the worker runs every ``every`` seconds (e.g. sending due notifications).

    ``run`` returns how much it did; a job that did something runs again at once.
    """

    name: str
    every: float
    run: Callable[[], Awaitable[int]]


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    bus: EventBus,
    *,
    interval: float = 0.5,
    periodic: Sequence[PeriodicJob] = (),
) -> None:
    """Relay, consume and run the scheduled jobs (the registry of ``kernel.jobs``, and
    ``periodic`` built by the composition root) until cancelled; backs off on outages."""

    async def relay_loop() -> None:
        backoff = interval
        while True:
            try:
                while await relay_once(sessionmaker, bus):
                    pass
                backoff = interval
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("outbox relay paused: %s", exc)
                backoff = min(backoff * 2, 10.0)
            bus.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bus.wakeup.wait(), timeout=backoff)

    async def consume_loop(cons: Consumer) -> None:
        backoff = interval
        while True:
            try:
                await consume_once(sessionmaker, bus, cons, block_ms=1000)
                backoff = interval
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("consumer %s paused: %s", cons.name, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def job_loop(job: PeriodicJob) -> None:
        backoff = job.every
        while True:
            try:
                did = await job.run()
                backoff = job.every
            except Exception:  # a job must never stop the worker
                log.exception("job %s failed", job.name)
                did = 0
                backoff = min(backoff * 2, max(job.every, 60.0))
            if not did:
                await asyncio.sleep(backoff)

    async with asyncio.TaskGroup() as group:
        group.create_task(relay_loop())
        for cons in consumers():
            group.create_task(consume_loop(cons))
        for registered in jobs.jobs():
            group.create_task(jobs.run_job(sessionmaker, bus, registered))
        for job in periodic:
            group.create_task(job_loop(job))
