"""The live hub of one server process: its WebSocket connections and one pub/sub link.

Each process subscribes, on one Redis connection, to the channels of the users it has
connections for (``fitsync.kernel.live``); any process can publish. Messages are not
forwarded from the pub/sub payload but read back from PostgreSQL after each
connection's cursor (the seq of the last message it got): a notice that arrives late,
twice, or never (Redis restarted) cannot cause a gap, a duplicate or a reordering —
the next notice, or the catch-up after reconnecting to Redis, fills in from the
system of record. Other live events (read receipts, notifications, seat counts) are
forwarded as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fitsync.kernel import clock, live
from fitsync.kernel.db import transaction
from fitsync.kernel.redis import Keys
from fitsync.messaging import events, service

log = logging.getLogger("fitsync.messaging")

QUEUE_LIMIT = 2000  # frames waiting for a slow client; beyond, it is disconnected
CATCH_UP_BATCH = 2000
PRESENCE_REFRESH_SECONDS = 30


@dataclass(eq=False)
class Connection:
    """One live client: its user, its cursor and the frames waiting to go out."""

    user_id: uuid.UUID
    gym_id: uuid.UUID
    cursor: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False

    def push(self, frame: str) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True  # the endpoint closes it; the client resumes with after=


class LiveHub:
    def __init__(
        self, redis: Redis, keys: Keys, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.sessionmaker = sessionmaker
        self.connections: dict[uuid.UUID, set[Connection]] = defaultdict(set)
        self._pubsub: PubSub | None = None
        self._control = keys("live", "hub", uuid.uuid4().hex)
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty: set[Connection] = set()
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    async def _ensure_started(self) -> None:
        async with self._lock:
            if not self._tasks:
                self._tasks = [
                    asyncio.create_task(self._listen(), name="live-hub-listen"),
                    asyncio.create_task(self._flush(), name="live-hub-flush"),
                    asyncio.create_task(self._presence(), name="live-hub-presence"),
                ]
        await self._ready.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    # -- connections -------------------------------------------------------------------

    async def register(self, conn: Connection, *, catch_up: bool) -> None:
        await self._ensure_started()
        first = not self.connections[conn.user_id]
        self.connections[conn.user_id].add(conn)
        if first and self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.subscribe(live.user_channel(self.keys, conn.user_id))
        with contextlib.suppress(RedisError, OSError):
            await self._mark_present(conn)
        if catch_up:
            self._make_dirty([conn])

    async def unregister(self, conn: Connection) -> None:
        conns = self.connections.get(conn.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.connections[conn.user_id]
                if self._pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await self._pubsub.unsubscribe(live.user_channel(self.keys, conn.user_id))
        self._dirty.discard(conn)
        with contextlib.suppress(RedisError, OSError):
            await self.redis.zrem(service.presence_key(self.keys, conn.user_id), conn.id)

    def _make_dirty(self, conns: Any) -> None:
        self._dirty.update(conns)
        self._wake.set()

    # -- presence (for "notify only when offline") -------------------------------------

    async def _mark_present(self, conn: Connection) -> None:
        expires = clock.now().timestamp() + service.PRESENCE_TTL_SECONDS
        key = service.presence_key(self.keys, conn.user_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {conn.id: expires})
            pipe.expire(key, service.PRESENCE_TTL_SECONDS)
            await pipe.execute()

    async def _presence(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_REFRESH_SECONDS)
            for conns in list(self.connections.values()):
                for conn in list(conns):
                    try:
                        await self._mark_present(conn)
                    except (RedisError, OSError):
                        break

    # -- pub/sub -----------------------------------------------------------------------

    async def _subscribe_all(self) -> PubSub:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._control)
        users = list(self.connections)
        for start in range(0, len(users), 500):
            chunk = users[start : start + 500]
            await pubsub.subscribe(*[live.user_channel(self.keys, u) for u in chunk])
        return pubsub

    async def _listen(self) -> None:
        backoff = 0.1
        prefix = live.user_channel(self.keys, "")
        while True:
            try:
                self._pubsub = await self._subscribe_all()
                if backoff > 0.1:  # reconnected after an outage: catch every connection up
                    log.warning("live hub reconnected to Redis; catching up")
                    self._make_dirty(c for conns in self.connections.values() for c in conns)
                backoff = 0.1
                self._ready.set()
                while True:
                    message = await self._pubsub.get_message(timeout=5.0)
                    if message is None or message.get("type") != "message":
                        continue
                    channel = str(message["channel"])
                    if not channel.startswith(prefix):
                        continue
                    self._deliver(uuid.UUID(channel[len(prefix) :]), str(message["data"]))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("live hub lost Redis (%s); retrying in %.1fs", exc, backoff)
                old, self._pubsub = self._pubsub, None
                if old is not None:
                    with contextlib.suppress(Exception):
                        await old.aclose()  # type: ignore[no-untyped-call]
                self._ready.set()  # connections still work; they catch up on reconnect
                await asyncio.sleep(backoff)
                backoff = min(max(backoff, 0.2) * 2, 5.0)

    def _deliver(self, user_id: uuid.UUID, payload: str) -> None:
        conns = self.connections.get(user_id)
        if not conns:
            return
        try:
            kind = json.loads(payload).get("type")
        except ValueError:
            return
        if kind == events.MESSAGE_SENT:
            self._make_dirty(conns)  # read back from PostgreSQL, in order
        else:
            for conn in conns:
                conn.push(payload)

    # -- catch-up from PostgreSQL ------------------------------------------------------

    async def _flush(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            by_gym: dict[uuid.UUID, list[Connection]] = defaultdict(list)
            for conn in dirty:
                by_gym[conn.gym_id].append(conn)
            for gym_id, conns in by_gym.items():
                try:
                    await self.catch_up(gym_id, conns)
                except Exception:
                    log.exception("live catch-up failed; retrying")
                    self._dirty.update(conns)
                    await asyncio.sleep(0.5)
                    self._wake.set()

    async def catch_up(self, gym_id: uuid.UUID, conns: list[Connection]) -> None:
        """Send each connection its messages after its cursor, oldest first."""
        while conns:
            cursors: dict[uuid.UUID, int] = {}
            for conn in conns:
                cursors[conn.user_id] = min(cursors.get(conn.user_id, conn.cursor), conn.cursor)
            async with transaction(self.sessionmaker, gym_id=gym_id) as session:
                rows = await service.messages_after(
                    session, gym_id=gym_id, cursors=cursors, limit=CATCH_UP_BATCH
                )
            for user_id, msg in rows:
                frame = None
                for conn in conns:
                    if conn.user_id == user_id and msg.seq > conn.cursor:
                        if frame is None:
                            frame = live.encode(
                                events.MESSAGE_SENT,
                                service.message_out(msg).model_dump(mode="json"),
                            )
                        conn.push(frame)
                        conn.cursor = msg.seq
            if len(rows) < CATCH_UP_BATCH:
                return
            conns = [c for c in conns if not c.overflowed]
