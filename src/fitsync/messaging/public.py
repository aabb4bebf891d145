"""What other contexts and the composition root may use of messaging."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fitsync.kernel.redis import Keys
from fitsync.messaging import events, service
from fitsync.messaging.hub import LiveHub
from fitsync.messaging.service import MessagingRuntime

__all__ = ["LiveHub", "MessagingRuntime", "events", "is_online", "make_hub", "rebuild_unread"]


async def is_online(redis: Redis, keys: Keys, user_id: uuid.UUID) -> bool:
    """Whether the user has a live WebSocket open on any server process."""
    return await service.is_online(redis, keys, user_id)


def make_hub(redis: Redis, keys: Keys, sessionmaker: async_sessionmaker[AsyncSession]) -> LiveHub:
    return LiveHub(redis, keys, sessionmaker)


async def rebuild_unread(redis: Redis, keys: Keys) -> int:
    """Drop every unread counter; each is rebuilt from PostgreSQL when next read."""
    removed = 0
    async for key in redis.scan_iter(match=keys("unread", "*"), count=1000):
        removed += int(await redis.delete(key))
    return removed
