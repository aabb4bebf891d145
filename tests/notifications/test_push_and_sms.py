"""Web Push against a local push service that decrypts; SMS through a provider port."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.outbox import Event
from fitsync.notifications import public as notifications
from fitsync.notifications.public import NotificationsRuntime
from tests.factories import make_gym, signed_in
from tests.notifications.conftest import Browser, consume, deliver, make_runtime, publish
from tests.servers import HttpServer, Request


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _reminder(gym_id: uuid.UUID, client_id: uuid.UUID) -> Event:
    return Event(
        type="booking.reminder",
        gym_id=gym_id,
        data={
            "booking_id": str(uuid.uuid4()),
            "client_id": str(client_id),
            "trainer_id": str(uuid.uuid4()),
            "class_id": None,
            "starts_at": "2026-11-24T07:00:00+00:00",
            "title": "Personal training",
        },
    )


async def _subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], endpoint: str, browser: Browser
) -> httpx.Response:
    return await client.post(
        "/users/me/push-subscriptions",
        headers=headers,
        json={"endpoint": endpoint, "keys": browser.keys(), "expirationTime": None},
    )


async def _subscriptions(admin_engine: AsyncEngine) -> int:
    async with admin_engine.connect() as conn:
        return int(
            await conn.scalar(text("SELECT count(*) FROM notifications.push_subscriptions")) or 0
        )


async def test_push_is_encrypted_for_the_device_and_signed_with_vapid(
    client: httpx.AsyncClient, container: Container, rt: NotificationsRuntime
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    browser = Browser.new()
    async with HttpServer() as push_service:
        response = await _subscribe(
            client, account.headers, f"{push_service.base}/push/abc", browser
        )
        assert response.status_code == 201, response.text
        again = await _subscribe(client, account.headers, f"{push_service.base}/push/abc", browser)
        assert again.status_code == 200
        assert again.json()["id"] == response.json()["id"]
        await consume(container)
        await publish(container, _reminder(account.gym_id, account.id))  # type: ignore[arg-type]
        await deliver(container, rt)

    [request] = push_service.requests
    assert request.method == "POST"
    assert request.path == "/push/abc"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert int(request.headers["ttl"]) > 0
    assert request.headers["urgency"] == "high"  # a reminder is urgent
    payload = json.loads(browser.decrypt(request.body))
    assert payload["type"] == "booking.reminder"
    assert payload["title"].startswith("Reminder: Personal training")
    assert payload["url"].startswith("http://testserver/bookings/")

    scheme, _, params = request.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.split("=", 1) for p in params.split(","))
    key = (await client.get("/notifications/push-key")).json()["public_key"]
    assert parts["k"] == key
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64decode(key))
    claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=push_service.base)
    assert claims["sub"].startswith("mailto:")


async def test_a_subscription_the_push_service_forgot_is_removed(
    client: httpx.AsyncClient,
    container: Container,
    rt: NotificationsRuntime,
    admin_engine: AsyncEngine,
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    async with HttpServer(respond=lambda _r: (410, {})) as push_service:
        await _subscribe(client, account.headers, f"{push_service.base}/gone", Browser.new())
        assert await _subscriptions(admin_engine) == 1
        await consume(container)
        await publish(container, _reminder(account.gym_id, account.id))  # type: ignore[arg-type]
        await deliver(container, rt)
    assert len(push_service.requests) == 1
    assert await _subscriptions(admin_engine) == 0
    async with admin_engine.connect() as conn:
        status = await conn.scalar(
            text("SELECT status FROM notifications.deliveries WHERE channel = 'push'")
        )
    assert status == "skipped"


@pytest.mark.parametrize(
    ("endpoint", "keys"),
    [
        ("ftp://push.example.com/x", None),
        ("http://push.example.com/x", None),  # plain HTTP only on loopback (tests)
        ("https://push.example.com/x", {"p256dh": "A" * 87, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}),
        ("https://push.example.com/x", {"p256dh": None, "auth": "short"}),
        ("https://push.example.com/x", {"p256dh": "not-base64!" * 9, "auth": "A" * 22}),
    ],
)
async def test_invalid_push_subscriptions_are_422(
    client: httpx.AsyncClient, container: Container, endpoint: str, keys: dict[str, Any] | None
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    good = Browser.new().keys()
    if keys is not None and keys["p256dh"] is None:
        keys = {**keys, "p256dh": good["p256dh"]}
    response = await client.post(
        "/users/me/push-subscriptions",
        headers=account.headers,
        json={"endpoint": endpoint, "keys": keys or good},
    )
    assert response.status_code == 422, response.text


async def test_only_the_owner_deletes_a_subscription(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym_id = await make_gym(container)
    owner = await signed_in(client, container, gym_id=gym_id)
    other = await signed_in(client, container, gym_id=gym_id)
    created = await _subscribe(
        client, owner.headers, "https://push.example.com/send/1", Browser.new()
    )
    path = f"/users/me/push-subscriptions/{created.json()['id']}"
    assert (await client.delete(path, headers=other.headers)).status_code == 404
    assert (await client.delete(path, headers=owner.headers)).status_code == 204
    assert (await client.delete(path, headers=owner.headers)).status_code == 404


async def _class_cancelled(container: Container, gym_id: uuid.UUID, client_id: uuid.UUID) -> Event:
    return await publish(
        container,
        Event(
            type="class.cancelled",
            gym_id=gym_id,
            data={
                "class_id": str(uuid.uuid4()),
                "client_ids": [str(client_id)],
                "trainer_id": str(uuid.uuid4()),
                "starts_at": "2026-11-24T18:00:00+00:00",
                "title": "Spin",
                "reason": "the trainer is ill",
            },
        ),
    )


async def test_sms_goes_through_a_twilio_compatible_provider(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container, name="Box"))
    await client.put(
        "/users/me/notification-preferences",
        headers=account.headers,
        json={"events": {"class.cancelled": ["sms"]}, "phone": "+4915112345678"},
    )

    def provider(request: Request) -> tuple[int, dict[str, Any]]:
        return 201, {"sid": "SM123", "status": "queued"}

    async with HttpServer(respond=provider) as sms_provider:
        url = sms_provider.base.replace("http://", "http://AC42:secret-token@")
        rt = await make_runtime(container, smtp_url=None, sms_url=url)
        try:
            await consume(container)
            await _class_cancelled(container, account.gym_id, account.id)  # type: ignore[arg-type]
            await deliver(container, rt)
        finally:
            await rt.close()
    [request] = sms_provider.requests
    assert request.path == "/2010-04-01/Accounts/AC42/Messages.json"
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(b"AC42:secret-token").decode()
    )
    form = dict(httpx.QueryParams(request.body.decode()))
    assert form["To"] == "+4915112345678"
    assert form["From"] == "+15550000000"
    assert form["Body"].startswith("Box: Spin on Tue 24 Nov 2026, 19:00 is cancelled.")


async def test_unconfigured_sms_is_kept_in_the_dev_outbox_not_dropped(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    await client.put(
        "/users/me/notification-preferences",
        headers=account.headers,
        json={"events": {"class.cancelled": ["sms", "in_app"]}, "phone": "+4915112345678"},
    )
    rt = await make_runtime(container, smtp_url=None, sms_url=None)
    try:
        await consume(container)
        await _class_cancelled(container, account.gym_id, account.id)  # type: ignore[arg-type]
        await deliver(container, rt)
    finally:
        await rt.close()
    async with admin_engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT recipient, doc FROM notifications.dev_outbox WHERE channel = 'sms'")
            )
        ).all()
    assert [r.recipient for r in rows] == ["+4915112345678"]
    assert "Spin" in rows[0].doc["body"]


async def test_message_notifications_are_skipped_while_the_recipient_is_online(
    container: Container, admin_engine: AsyncEngine
) -> None:
    gym_id = await make_gym(container)
    from tests.factories import make_user

    recipient = await make_user(container, gym_id=gym_id)
    rt = await make_runtime(container, smtp_url=None, online=True)
    try:
        await consume(container)
        await publish(
            container,
            Event(
                type="message.sent",
                gym_id=gym_id,
                actor_id=uuid.uuid4(),
                data={
                    "message_id": str(uuid.uuid4()),
                    "conversation_id": str(uuid.uuid4()),
                    "sender_id": str(uuid.uuid4()),
                    "sender_name": "Tess Trainer",
                    "recipient_ids": [str(recipient.id)],
                    "preview": "See you at 7?",
                },
            ),
        )
        await deliver(container, rt)
    finally:
        await rt.close()
    async with admin_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT channel, status, last_error FROM notifications.deliveries"
                    " WHERE event_type = 'message.sent'"
                )
            )
        ).all()
    assert {(r.channel, r.status, r.last_error) for r in rows} == {
        ("push", "skipped", "recipient online"),
        ("email", "skipped", "recipient online"),
    }


_ = notifications
