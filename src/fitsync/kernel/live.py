"""Live events for a user, fanned out across server processes by Redis pub/sub.

Any context publishes to a user's channel (``keys("live", "user", <id>)``); every
process that holds a live connection of that user (the WebSocket ``GET /api/v1/ws``,
an SSE stream) subscribes to it and forwards each event as it comes. A message on a
channel is JSON ``{"type": ..., "data": {...}}``.

Pub/sub is fire-and-forget: an event published while nobody listens, or while Redis
is down, is gone. What must not be missed lives in PostgreSQL and is caught up from
there (messages: ``after=``; notifications: the inbox).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from fitsync.kernel.redis import Keys


def user_channel(keys: Keys, user_id: uuid.UUID | str) -> str:
    return keys("live", "user", user_id)


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
