"""Redis restarted in the middle of the event stream: nothing lost, nothing sent twice."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from fitsync.bootstrap import Container
from fitsync.kernel.outbox import EventBus, consume_once, relay_once
from fitsync.kernel.redis import make_redis
from fitsync.notifications import public as notifications
from fitsync.notifications.public import NotificationsRuntime
from tests.factories import make_gym, make_user
from tests.notifications.conftest import notifications_consumer
from tests.servers import PrivateValkey, SmtpServer


async def test_outbox_and_pending_entries_survive_a_redis_restart(
    container: Container, rt: NotificationsRuntime, smtp: SmtpServer
) -> None:
    valkey = PrivateValkey()
    valkey.start()
    redis = make_redis(valkey.url)
    bus = EventBus(redis, container.keys)
    cons = notifications_consumer()
    try:
        gym_id = await make_gym(container)
        users = [await make_user(container, gym_id=gym_id) for _ in range(10)]
        assert await relay_once(container.sessionmaker, bus) == 10
        assert await consume_once(container.sessionmaker, bus, cons, count=4) == 4
        # Another worker has read three more and not acknowledged them when Redis goes.
        in_flight = await redis.xreadgroup(cons.name, "w2", {bus.stream: ">"}, count=3)
        assert len(in_flight[0][1]) == 3

        valkey.stop()
        users += [await make_user(container, gym_id=gym_id) for _ in range(5)]
        with pytest.raises((RedisConnectionError, OSError)):
            await relay_once(container.sessionmaker, bus)  # the outbox keeps them
        valkey.start()

        assert await relay_once(container.sessionmaker, bus) == 5
        while await consume_once(container.sessionmaker, bus, cons, retry_idle_ms=0):
            pass
        pending = await redis.xpending(bus.stream, cons.name)
        assert pending["pending"] == 0
        while await notifications.dispatch_once(rt):
            pass
    finally:
        await redis.aclose()
        valkey.cleanup()

    assert sorted(r.envelope_to[0] for r in smtp.received) == sorted(u.email for u in users)
    event_ids = [r.message["X-FitSync-Event-Id"] for r in smtp.received]
    assert len(set(event_ids)) == len(event_ids) == 15
