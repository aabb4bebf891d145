"""The composition root: builds every port and runtime from settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fitsync.billing import tasks as billing_tasks
from fitsync.billing.providers import BillingRuntime
from fitsync.billing.providers import build_runtime as build_billing_runtime
from fitsync.contexts import modules
from fitsync.gyms import public as gyms
from fitsync.identity import public as identity
from fitsync.identity.domain import Argon2Params, Passwords
from fitsync.identity.service import Throttle
from fitsync.kernel.auth import TokenService
from fitsync.kernel.db import make_engine, make_sessionmaker, transaction
from fitsync.kernel.outbox import EventBus, PeriodicJob
from fitsync.kernel.redis import Keys, make_redis
from fitsync.messaging import public as messaging
from fitsync.messaging.public import LiveHub, MessagingRuntime
from fitsync.notifications import public as notifications
from fitsync.notifications.public import NotificationsRuntime
from fitsync.progress import public as progress
from fitsync.settings import Settings


def load_handlers() -> None:
    """Import the modules that register event consumers and scheduled jobs."""
    modules("handlers")
    modules("tasks")


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    keys: Keys
    bus: EventBus
    tokens: TokenService
    identity: identity.IdentityRuntime
    progress: progress.ProgressRuntime
    notifications: NotificationsRuntime
    messaging: MessagingRuntime
    messaging_hub: LiveHub
    jobs: list[PeriodicJob]
    billing: BillingRuntime

    async def close(self) -> None:
        await self.billing.close()
        await self.progress.close()
        await self.messaging_hub.close()
        await self.notifications.close()
        await self.redis.aclose()
        await self.engine.dispose()


def build_container(settings: Settings) -> Container:
    """Wire the application; nothing connects until first used."""
    assert settings.database_url, "store URLs must be resolved first"
    assert settings.redis_url, "store URLs must be resolved first"
    load_handlers()
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessionmaker = make_sessionmaker(engine)
    redis = make_redis(settings.redis_url)
    keys = Keys(settings.redis_prefix)

    async def session_is_active(sid: uuid.UUID) -> bool:
        async with transaction(sessionmaker, all_gyms=True) as session:
            return await identity.session_is_active(session, sid)

    tokens = TokenService(
        secret=settings.resolved_secret_key(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=timedelta(minutes=settings.access_token_minutes),
        redis=redis,
        keys=keys,
        session_is_active=session_is_active,
    )
    passwords = Passwords(
        Argon2Params(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        )
    )
    identity_rt = identity.IdentityRuntime(
        gyms=gyms.directory,
        passwords=passwords,
        tokens=tokens,
        redis=redis,
        keys=keys,
        refresh_ttl=timedelta(days=settings.refresh_token_days),
        throttle=Throttle(
            max_failures_account=settings.login_max_failures_account,
            max_failures_ip=settings.login_max_failures_ip,
            window_seconds=settings.login_window_seconds,
        ),
        public_url=settings.public_url,
    )
    bus = EventBus(redis, keys)

    async def is_online(user_id: uuid.UUID) -> bool:
        return await messaging.is_online(redis, keys, user_id)

    notifications_rt = notifications.build_runtime(
        settings,
        sessionmaker=sessionmaker,
        redis=redis,
        keys=keys,
        bus=bus,
        is_online=is_online,
    )
    billing_rt = build_billing_runtime(
        card_api_url=settings.billing_card_api_url,
        card_api_key=settings.billing_card_api_key,
        card_webhook_secret=settings.billing_card_webhook_secret,
    )

    async def billing_renewals() -> int:
        report = await billing_tasks.run_all(sessionmaker, billing_rt)
        return report.renewed + report.charged + report.failed + report.retried + report.canceled

    return Container(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        redis=redis,
        keys=keys,
        bus=bus,
        tokens=tokens,
        identity=identity_rt,
        progress=progress.build_runtime(
            engine, influx_url=settings.influx_url, max_upload_bytes=settings.max_upload_bytes
        ),
        notifications=notifications_rt,
        messaging=MessagingRuntime(redis=redis, keys=keys),
        messaging_hub=messaging.make_hub(redis, keys, sessionmaker),
        jobs=[
            *notifications.jobs(notifications_rt, interval=settings.relay_interval_seconds),
            # Renewals and dunning: exactly once per period however often this runs.
            PeriodicJob(
                "billing.renewals", every=settings.billing_job_seconds, run=billing_renewals
            ),
        ],
        billing=billing_rt,
    )
