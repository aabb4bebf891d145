"""Notifications fixtures: a real SMTP server, a runtime that sends to it, event helpers."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fitsync.bootstrap import Container
from fitsync.kernel import clock, outbox
from fitsync.kernel.outbox import Consumer, Event, consume_once, relay_once
from fitsync.notifications import public as notifications
from fitsync.notifications.public import NotificationsRuntime
from fitsync.notifications.service import CONSUMER
from tests.servers import SmtpServer, smtp_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


async def make_runtime(
    container: Container, *, smtp_url: str | None, sms_url: str | None = None, online: bool = False
) -> NotificationsRuntime:
    settings = container.settings.model_copy(
        update={"smtp_url": smtp_url, "sms_url": sms_url, "sms_from": "+15550000000"}
    )

    async def is_online(_user_id: uuid.UUID) -> bool:
        return online

    return notifications.build_runtime(
        settings,
        sessionmaker=container.sessionmaker,
        redis=container.redis,
        keys=container.keys,
        bus=container.bus,
        is_online=is_online,
        strict_templates=True,
    )


@pytest.fixture
async def rt(container: Container, smtp: SmtpServer) -> AsyncIterator[NotificationsRuntime]:
    runtime = await make_runtime(container, smtp_url=smtp.url)
    yield runtime
    await runtime.close()


def notifications_consumer() -> Consumer:
    return next(c for c in outbox.consumers() if c.name == CONSUMER)


async def publish(container: Container, event: Event) -> Event:
    """Write ``event`` to the outbox, as its producer would, and relay it."""
    from fitsync.kernel.db import transaction

    async with transaction(container.sessionmaker, all_gyms=True) as session:
        await outbox.add(session, event)
    await relay_once(container.sessionmaker, container.bus)
    return event


async def consume(container: Container) -> int:
    await relay_once(container.sessionmaker, container.bus)
    total = 0
    while n := await consume_once(container.sessionmaker, container.bus, notifications_consumer()):
        total += n
    return total


async def deliver(container: Container, rt: NotificationsRuntime) -> int:
    """Relay, consume and send everything due now."""
    await consume(container)
    return await notifications.dispatch_once(rt)


@pytest.fixture
def timeline() -> Iterator[Timeline]:
    """Move FitSync's clock forward (retries and quiet hours wait on it)."""
    line = Timeline(clock.now())
    previous = clock.set_clock(line)
    yield line
    clock.set_clock(previous)


class Timeline(clock.Clock):
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class Browser:
    """The user agent's side of a Web Push subscription: its keys, and decryption."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Browser:
        import os

        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    def keys(self) -> dict[str, str]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": _b64(public), "auth": _b64(self.auth)}

    def decrypt(self, body: bytes) -> bytes:
        return bytes(
            http_ece.decrypt(
                body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
            )
        )
