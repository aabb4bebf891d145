"""Email through a real SMTP server: content, exactly-once, retries, dead letters."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.gyms.models import Gym
from fitsync.kernel import outbox
from fitsync.kernel.auth import Role
from fitsync.kernel.db import transaction
from fitsync.kernel.outbox import Event, EventBus, consume_once
from fitsync.notifications import domain
from fitsync.notifications import public as notifications
from fitsync.notifications.public import NotificationsRuntime
from tests.factories import make_gym, make_user
from tests.notifications.conftest import (
    Timeline,
    consume,
    deliver,
    make_runtime,
    notifications_consumer,
    publish,
)
from tests.servers import SmtpServer, free_port, smtp_server


async def _deliveries(admin_engine: AsyncEngine, **where: Any) -> list[Any]:
    clause = " AND ".join(f"{k} = :{k}" for k in where) or "true"
    async with admin_engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT * FROM notifications.deliveries WHERE {clause} ORDER BY created_at"),
            where,
        )
        return list(rows)


def _booking(gym_id: uuid.UUID, client_id: uuid.UUID, **extra: Any) -> Event:
    return Event(
        type="booking.created",
        gym_id=gym_id,
        actor_id=client_id,
        data={
            "booking_id": str(uuid.uuid4()),
            "client_id": str(client_id),
            "trainer_id": str(uuid.uuid4()),
            "class_id": str(uuid.uuid4()),
            "starts_at": "2026-11-24T17:30:00+00:00",
            "title": "Morning <b>Yoga</b>",
            "status": "confirmed",
            **extra,
        },
    )


async def test_welcome_email_is_multipart_with_headers_branding_and_links(
    client: httpx.AsyncClient, container: Container, rt: NotificationsRuntime, smtp: SmtpServer
) -> None:
    gym_id = await make_gym(container, name="Iron & Oak")
    response = await client.post(
        "/auth/register",
        json={
            "email": "ana@example.com",
            "password": "a-long-passphrase-9",
            "first_name": "Ana",
            "last_name": "Silva",
            "gym_id": str(gym_id),
        },
    )
    assert response.status_code == 201
    await deliver(container, rt)

    assert len(smtp.received) == 1
    mail = smtp.received[0]
    message = mail.message
    assert mail.envelope_to == ["ana@example.com"]
    assert message["Subject"] == "Welcome to Iron & Oak, Ana"
    assert message["From"].startswith('"Iron & Oak"') or message["From"].startswith("Iron & Oak")
    assert message["Message-ID"].startswith("<")
    assert message["Message-ID"].endswith(">")
    async with container.engine.connect() as conn:
        event_id = await conn.scalar(
            text("SELECT id FROM kernel.outbox WHERE type = 'user.registered'")
        )
    assert message["X-FitSync-Event-Id"] == str(event_id)
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    plain_text, html_text = plain.get_content(), html.get_content()
    assert "Hi Ana," in plain_text
    assert "http://testserver/settings/notifications" in plain_text
    assert 'href="http://testserver/"' in html_text
    assert "Iron &amp; Oak" in html_text  # the gym's name, escaped in HTML
    assert "#0f766e" in html_text  # the gym's default primary colour


async def test_a_logo_on_this_site_gets_an_absolute_address_in_email(
    container: Container, rt: NotificationsRuntime, smtp: SmtpServer
) -> None:
    gym_id = await make_gym(container)
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        gym = await session.get(Gym, gym_id)
        assert gym is not None
        gym.branding = {**gym.branding, "logo_url": "/static/logos/iron-oak.svg"}
    account = await make_user(container, gym_id=gym_id)
    await publish(container, _booking(gym_id, account.id))
    await deliver(container, rt)

    html = smtp.received[0].message.get_body(("html",))
    assert html is not None
    assert 'src="http://testserver/static/logos/iron-oak.svg"' in html.get_content()


async def test_an_address_email_cannot_carry_is_given_up_at_once_with_the_reason(
    container: Container,
    admin_engine: AsyncEngine,
    rt: NotificationsRuntime,
    smtp: SmtpServer,
) -> None:
    gym_id = await make_gym(container)
    email = f"mateo.garc\u00eda-{uuid.uuid4().hex[:6]}@example.com"
    account = await make_user(container, gym_id=gym_id, email=email)
    await deliver(container, rt)

    assert smtp.received == []
    [row] = await _deliveries(admin_engine, recipient_id=account.id, channel="email")
    assert (row.status, row.attempts) == ("dead", 1)
    [in_app] = await _deliveries(admin_engine, recipient_id=account.id, channel="in_app")
    assert in_app.status == "sent"  # the other channels are not held up


async def test_user_content_is_escaped_in_html_but_plain_in_text(
    container: Container, rt: NotificationsRuntime, smtp: SmtpServer
) -> None:
    gym_id = await make_gym(container)
    account = await make_user(container, gym_id=gym_id)
    await publish(container, _booking(gym_id, account.id))
    await deliver(container, rt)
    booking_mails = [m for m in smtp.received if "Booked" in m.message["Subject"]]
    assert len(booking_mails) == 1
    message = booking_mails[0].message
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Morning &lt;b&gt;Yoga&lt;/b&gt;" in html
    assert "<b>Yoga</b>" not in html
    assert "Morning <b>Yoga</b>" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # 17:30 UTC shown in the gym's time zone (Europe/Berlin, UTC+1 in November)
    assert "Tue 24 Nov 2026, 18:30" in html


async def test_a_redelivered_event_sends_nothing_twice(
    container: Container, rt: NotificationsRuntime, smtp: SmtpServer, admin_engine: AsyncEngine
) -> None:
    gym_id = await make_gym(container)
    account = await make_user(container, gym_id=gym_id)
    event = await publish(container, _booking(gym_id, account.id))
    await deliver(container, rt)
    await container.redis.xadd(container.bus.stream, event.to_fields())  # the relay ran twice
    await deliver(container, rt)
    await notifications.dispatch_once(rt)
    mails = [m for m in smtp.received if m.message["X-FitSync-Event-Id"] == str(event.id)]
    assert len(mails) == 1
    rows = await _deliveries(admin_engine, event_id=event.id)
    assert sorted(r.channel for r in rows) == ["email", "in_app", "push"]


class _CrashOnAck:
    """A Redis client whose XACK never happens: the process dies right before it."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def xack(self, *_args: Any) -> int:
        raise SystemExit("consumer crashed before acknowledging")


async def test_consumer_crash_between_send_and_ack_sends_no_duplicate(
    container: Container, rt: NotificationsRuntime, smtp: SmtpServer, admin_engine: AsyncEngine
) -> None:
    gym_id = await make_gym(container)
    account = await make_user(container, gym_id=gym_id)
    await consume(container)  # the registration before it: handled and acknowledged
    event = await publish(container, _booking(gym_id, account.id))
    crashing = EventBus(_CrashOnAck(container.redis), container.keys)  # type: ignore[arg-type]
    with pytest.raises(SystemExit):  # handled (deliveries committed), then the crash
        await consume_once(container.sessionmaker, crashing, notifications_consumer())
    await notifications.dispatch_once(rt)  # the email goes out
    assert len([m for m in smtp.received if m.message["X-FitSync-Event-Id"] == str(event.id)]) == 1
    pending = await container.redis.xpending(container.bus.stream, notifications_consumer().name)
    assert pending["pending"] == 1  # never acknowledged: it will be delivered again

    # Another worker reclaims the entry: the idempotency records make it a no-op.
    await consume_once(
        container.sessionmaker, container.bus, notifications_consumer(), retry_idle_ms=0
    )
    await notifications.dispatch_once(rt)
    mails = [m for m in smtp.received if m.message["X-FitSync-Event-Id"] == str(event.id)]
    assert len(mails) == 1
    pending = await container.redis.xpending(container.bus.stream, notifications_consumer().name)
    assert pending["pending"] == 0


async def test_smtp_down_is_retried_with_backoff_and_delivered_once_when_back(
    container: Container, admin_engine: AsyncEngine, timeline: Timeline
) -> None:
    port = free_port()  # nothing listens there yet
    rt = await make_runtime(container, smtp_url=f"smtp://127.0.0.1:{port}")
    try:
        gym_id = await make_gym(container)
        account = await make_user(container, gym_id=gym_id)
        await deliver(container, rt)
        [row] = await _deliveries(admin_engine, recipient_id=account.id, channel="email")
        assert (row.status, row.attempts) == ("pending", 1)
        assert "unreachable" in row.last_error
        assert row.next_attempt_at >= timeline.now() + timedelta(seconds=29)

        await notifications.dispatch_once(rt)  # not due yet: nothing tried
        [row] = await _deliveries(admin_engine, recipient_id=account.id, channel="email")
        assert row.attempts == 1

        timeline.advance(timedelta(seconds=31))
        await notifications.dispatch_once(rt)  # still down: the wait doubles
        [row] = await _deliveries(admin_engine, recipient_id=account.id, channel="email")
        assert row.attempts == 2
        assert row.next_attempt_at >= timeline.now() + timedelta(seconds=59)

        with smtp_server(port) as smtp:
            timeline.advance(timedelta(minutes=1, seconds=1))
            await notifications.dispatch_once(rt)
            timeline.advance(timedelta(hours=2))
            await notifications.dispatch_once(rt)
            assert len(smtp.received) == 1
            assert smtp.received[0].envelope_to == [account.email]
        [row] = await _deliveries(admin_engine, recipient_id=account.id, channel="email")
        assert (row.status, row.attempts) == ("sent", 3)
    finally:
        await rt.close()


async def test_gives_up_into_a_dead_letter_that_replays_once_smtp_is_back(
    container: Container, admin_engine: AsyncEngine, timeline: Timeline
) -> None:
    port = free_port()
    rt = await make_runtime(container, smtp_url=f"smtp://127.0.0.1:{port}")
    try:
        gym_id = await make_gym(container)
        account = await make_user(container, gym_id=gym_id)
        await consume(container)
        for _ in range(domain.MAX_ATTEMPTS):
            await notifications.dispatch_once(rt)
            timeline.advance(domain.MAX_RETRY + timedelta(seconds=1))
        [row] = await _deliveries(admin_engine, recipient_id=account.id, channel="email")
        assert (row.status, row.attempts) == ("dead", domain.MAX_ATTEMPTS)
        [letter] = await outbox.dead_letters(container.bus)
        assert letter.consumer == "notifications"
        assert letter.event.type == "user.registered"
        assert "email" in letter.error
        assert "unreachable" in letter.error

        with smtp_server(port) as smtp:
            assert await outbox.replay(container.sessionmaker, container.bus, letter.entry_id)
            await deliver(container, rt)
            await deliver(container, rt)
            assert len(smtp.received) == 1
        [row] = await _deliveries(admin_engine, recipient_id=account.id, channel="email")
        assert row.status == "sent"
        [in_app] = await _deliveries(admin_engine, recipient_id=account.id, channel="in_app")
        assert in_app.status == "sent"  # sent before: not sent again by the replay
        assert await outbox.dead_letters(container.bus) == []
    finally:
        await rt.close()


async def test_event_without_the_documented_fields_is_dead_lettered(
    container: Container, rt: NotificationsRuntime
) -> None:
    gym_id = await make_gym(container)
    event = Event(type="booking.reminder", gym_id=gym_id, data={"booking_id": "x"})
    await publish(container, event)
    for _ in range(outbox.MAX_DELIVERIES):
        await consume_once(
            container.sessionmaker, container.bus, notifications_consumer(), retry_idle_ms=0
        )
    letters = await outbox.dead_letters(container.bus)
    assert [letter.event.id for letter in letters] == [event.id]
    assert "client_id" in letters[0].error


async def test_recipients_of_another_gym_are_never_notified(
    container: Container, rt: NotificationsRuntime, smtp: SmtpServer, admin_engine: AsyncEngine
) -> None:
    gym_a, gym_b = await make_gym(container, "A"), await make_gym(container, "B")
    stranger = await make_user(container, role=Role.client, gym_id=gym_b)
    await consume(container)
    event = await publish(container, _booking(gym_a, stranger.id))
    await deliver(container, rt)
    assert await _deliveries(admin_engine, event_id=event.id) == []


async def test_unconfigured_smtp_keeps_the_email_in_the_dev_outbox(
    container: Container, admin_engine: AsyncEngine
) -> None:
    rt = await make_runtime(container, smtp_url=None)
    try:
        gym_id = await make_gym(container)
        account = await make_user(container, gym_id=gym_id)
        await deliver(container, rt)
    finally:
        await rt.close()
    async with admin_engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT channel, recipient, doc FROM notifications.dev_outbox"))
        ).one()
    assert (row.channel, row.recipient) == ("email", account.email)
    assert row.doc["headers"]["Subject"].startswith("Welcome to")
    [delivery] = await _deliveries(admin_engine, recipient_id=account.id, channel="email")
    assert delivery.status == "sent"
