"""The outbox: events commit with their change, wait out a Redis outage, apply once."""

from __future__ import annotations

import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel import outbox
from fitsync.kernel.db import transaction
from fitsync.kernel.outbox import Consumer, Event, EventBus, consume_once, relay_once
from fitsync.kernel.redis import Keys, make_redis


async def _unpublished(admin_engine: AsyncEngine) -> int:
    async with admin_engine.connect() as conn:
        return int(
            await conn.scalar(text("SELECT count(*) FROM kernel.outbox WHERE published_at IS NULL"))
            or 0
        )


async def test_event_rolls_back_with_its_transaction(
    container: Container, admin_engine: AsyncEngine
) -> None:
    with pytest.raises(RuntimeError):
        async with transaction(container.sessionmaker, all_gyms=True) as session:
            await outbox.add(session, Event(type="test.happened", data={"n": 1}))
            raise RuntimeError("the change failed")
    async with admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM kernel.outbox")) == 0


async def test_events_wait_in_the_outbox_while_redis_is_down(
    container: Container, admin_engine: AsyncEngine
) -> None:
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        for n in range(3):
            await outbox.add(session, Event(type="test.happened", data={"n": n}))
    dead = make_redis("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        with pytest.raises(RedisConnectionError):
            await relay_once(container.sessionmaker, EventBus(dead, container.keys))
    finally:
        await dead.aclose()
    assert await _unpublished(admin_engine) == 3

    assert await relay_once(container.sessionmaker, container.bus) == 3
    assert await _unpublished(admin_engine) == 0
    entries = await container.redis.xrange(container.bus.stream)
    assert [Event.from_fields(f).data["n"] for _id, f in entries] == [0, 1, 2]


async def test_consumer_applies_each_event_once_and_skips_other_types(
    container: Container, admin_engine: AsyncEngine
) -> None:
    seen: list[uuid.UUID] = []

    async def handler(_session: object, event: Event) -> None:
        seen.append(event.id)

    cons = Consumer(
        name=f"test-{uuid.uuid4().hex[:6]}", types=frozenset({"test.wanted"}), handler=handler
    )  # type: ignore[arg-type]
    wanted = Event(type="test.wanted", data={})
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        await outbox.add(session, wanted)
        await outbox.add(session, Event(type="test.unwanted", data={}))
    await relay_once(container.sessionmaker, container.bus)
    await relay_once(container.sessionmaker, container.bus)  # nothing left: no duplicates
    assert await consume_once(container.sessionmaker, container.bus, cons) == 1
    await container.redis.xadd(container.bus.stream, wanted.to_fields())  # a redelivery
    await consume_once(container.sessionmaker, container.bus, cons)
    assert seen == [wanted.id]
    pending = await container.redis.xpending(container.bus.stream, cons.name)
    assert pending["pending"] == 0


async def test_failing_handler_is_retried_then_dead_lettered(container: Container) -> None:
    attempts: list[int] = []

    async def handler(_session: object, _event: Event) -> None:
        attempts.append(1)
        raise ValueError("boom")

    cons = Consumer(
        name=f"test-{uuid.uuid4().hex[:6]}", types=frozenset({"test.bad"}), handler=handler
    )  # type: ignore[arg-type]
    bus = EventBus(container.redis, Keys(container.keys.prefix + "iso:"))
    await bus.redis.xadd(bus.stream, Event(type="test.bad", data={}).to_fields())
    for _ in range(outbox.MAX_DELIVERIES):
        await consume_once(container.sessionmaker, bus, cons, retry_idle_ms=0)
    assert len(attempts) == outbox.MAX_DELIVERIES
    assert await bus.redis.xlen(bus.dead_letters) == 1
    await consume_once(container.sessionmaker, bus, cons, retry_idle_ms=0)
    assert len(attempts) == outbox.MAX_DELIVERIES  # acknowledged: not tried again
