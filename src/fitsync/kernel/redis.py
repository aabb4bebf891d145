"""Redis: one client per process, every key under the configured prefix."""

from __future__ import annotations

from redis.asyncio import Redis


def make_redis(url: str) -> Redis:
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        max_connections=200,
    )


class Keys:
    """Builds namespaced keys: ``Keys("fitsync:")("revoked", sid)`` → ``fitsync:revoked:<sid>``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)
