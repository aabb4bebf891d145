"""What the composition root and other contexts may use of notifications."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fitsync.kernel.outbox import EventBus
from fitsync.kernel.redis import Keys
from fitsync.notifications import events
from fitsync.notifications.channels import (
    DevOutbox,
    EmailSender,
    SmsSender,
    SmtpEmail,
    TwilioSms,
    WebPush,
    load_vapid_key,
)
from fitsync.notifications.service import NotificationsRuntime, cleanup, dispatch_once
from fitsync.notifications.tasks import jobs
from fitsync.notifications.templates import Renderer
from fitsync.settings import Settings

__all__ = [
    "NotificationsRuntime",
    "build_runtime",
    "cleanup",
    "dispatch_once",
    "events",
    "jobs",
]


def build_runtime(
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    keys: Keys,
    bus: EventBus,
    is_online: Callable[[uuid.UUID], Awaitable[bool]] | None = None,
    strict_templates: bool = False,
) -> NotificationsRuntime:
    """The channels named by the settings; the dev outbox for unconfigured ones."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
    dev = DevOutbox(sessionmaker, sender=settings.smtp_from)
    email: EmailSender = (
        SmtpEmail(
            settings.smtp_url, sender=settings.smtp_from, timeout=settings.smtp_timeout_seconds
        )
        if settings.smtp_url
        else dev
    )
    sms: SmsSender = (
        TwilioSms(settings.sms_url, sender=settings.sms_from or "FitSync", client=http)
        if settings.sms_url
        else dev
    )
    push = WebPush(
        load_vapid_key(settings.vapid_private_key, settings.data_dir),
        subject=settings.vapid_subject,
        client=http,
    )
    return NotificationsRuntime(
        sessionmaker=sessionmaker,
        redis=redis,
        keys=keys,
        bus=bus,
        renderer=Renderer(strict=strict_templates),
        email=email,
        sms=sms,
        push=push,
        vapid_public_key=push.public_key,
        public_url=settings.public_url,
        retention=timedelta(days=settings.notifications_retention_days),
        is_online=is_online,
        http=http,
    )
