"""Live updates: Redis pub/sub channels per gym and per user, fed after commit.

A service calls :func:`notify` inside its unit of work; the request edge publishes
the notices once the transaction has committed (so nobody sees a change that rolled
back), on the gym's channel or the user's. Every server worker subscribes its
stream clients to their own gym's and user's channels only, so a notice never
crosses gyms. Notices are best-effort (a client reconnecting re-reads the state);
what must not be lost goes through the outbox.

Messaging and notifications publish per-user events with :func:`publish` (the WebSocket
``GET /api/v1/ws`` and the SSE stream forward them); what must not be missed lives in
PostgreSQL and is caught up from there (messages: ``after=``; notifications: the inbox).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel.redis import Keys

log = logging.getLogger("fitsync.live")

_PENDING = "live_notices"


def gym_channel(keys: Keys, gym_id: uuid.UUID) -> str:
    return keys("live", "gym", gym_id)


def user_channel(keys: Keys, user_id: uuid.UUID | str) -> str:
    return keys("live", "user", user_id)


def notify(
    session: AsyncSession,
    *,
    type: str,
    data: dict[str, Any],
    gym_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> None:
    """Queue a notice for the gym's (or the user's) live streams, sent after commit."""
    assert (gym_id is None) != (user_id is None), "a notice goes to a gym or to a user"
    target = ("gym", gym_id) if gym_id else ("user", user_id)
    session.info.setdefault(_PENDING, []).append((target, type, data))


async def publish_pending(redis: Redis, keys: Keys, session: AsyncSession) -> None:
    """Publish what :func:`notify` queued; call after the commit."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for (scope, target_id), type_, data in pending:
                channel = keys("live", scope, target_id)
                pipe.publish(channel, json.dumps({"type": type_, "data": data}, default=str))
            await pipe.execute()
    except (RedisError, OSError) as exc:  # the change is committed; live views catch up
        log.warning("live notices dropped: %s", exc)


async def listen(redis: Redis, channels: list[str]) -> AsyncIterator[dict[str, Any] | None]:
    """Notices from ``channels`` as ``{type, data}``; ``None`` once subscribed (nothing
    published before that is seen) and then after every 15 s of silence."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(*channels)
    try:
        yield None
        while True:
            message = await pubsub.get_message(timeout=15.0)
            if message is None:
                yield None
                continue
            try:
                yield json.loads(message["data"])
            except (TypeError, ValueError):
                continue
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]


def encode(type_: str, data: dict[str, Any]) -> str:
    return json.dumps({"type": type_, "data": data}, default=str, separators=(",", ":"))


async def publish(
    redis: Redis,
    keys: Keys,
    user_ids: Iterable[uuid.UUID | str],
    type_: str,
    data: dict[str, Any],
) -> None:
    """Send ``{type, data}`` to every live connection of these users (any process)."""
    payload = encode(type_, data)
    async with redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.publish(user_channel(keys, user_id), payload)
        await pipe.execute()
