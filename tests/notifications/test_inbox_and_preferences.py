"""The in-app inbox, preferences and quiet hours, retention."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel import live
from fitsync.kernel.outbox import Event
from fitsync.notifications import public as notifications
from fitsync.notifications.public import NotificationsRuntime
from tests.factories import make_gym, signed_in
from tests.notifications.conftest import Timeline, consume, deliver, publish


def _achievement(gym_id: uuid.UUID, client_id: uuid.UUID, n: int) -> Event:
    return Event(
        type="achievement.earned",
        gym_id=gym_id,
        data={
            "achievement_id": str(uuid.uuid4()),
            "client_id": str(client_id),
            "code": f"streak-{n}",
            "name": f"{n}-day streak",
        },
    )


async def test_inbox_pages_newest_first_with_unread_count_and_read_marks(
    client: httpx.AsyncClient, container: Container, rt: NotificationsRuntime
) -> None:
    gym_id = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym_id)
    other = await signed_in(client, container, gym_id=gym_id)
    for n in range(5):
        await publish(container, _achievement(gym_id, me.id, n))
    await deliver(container, rt)

    first = (await client.get("/notifications?limit=3", headers=me.headers)).json()
    # 5 achievements plus the welcome of the registration
    assert first["unread"] == 6
    assert len(first["items"]) == 3
    second = (
        await client.get(
            f"/notifications?limit=3&cursor={first['next_cursor']}", headers=me.headers
        )
    ).json()
    assert second["next_cursor"] is None
    items = first["items"] + second["items"]
    assert len({i["id"] for i in items}) == 6
    stamps = [i["created_at"] for i in items]
    assert stamps == sorted(stamps, reverse=True)
    achievement = next(i for i in items if i["type"] == "achievement.earned")
    assert set(achievement) == {"id", "type", "title", "body", "data", "read_at", "created_at"}
    assert achievement["title"].startswith("Achievement unlocked: ")
    assert achievement["data"]["code"].startswith("streak-")

    target = f"/notifications/{achievement['id']}/read"
    assert (await client.post(target, headers=other.headers)).status_code == 404
    read = await client.post(target, headers=me.headers)
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    assert (await client.get("/notifications", headers=me.headers)).json()["unread"] == 5
    only_unread = (await client.get("/notifications?unread=true", headers=me.headers)).json()
    assert achievement["id"] not in {i["id"] for i in only_unread["items"]}

    done = await client.post("/notifications/read-all", headers=me.headers)
    assert done.json() == {"updated": 5, "unread": 0}
    assert (await client.get("/notifications", headers=other.headers)).json()["unread"] == 1


async def test_a_new_in_app_notification_is_published_live(
    client: httpx.AsyncClient, container: Container, rt: NotificationsRuntime
) -> None:
    gym_id = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym_id)
    await consume(container)
    await notifications.dispatch_once(rt)
    pubsub = container.redis.pubsub()
    await pubsub.subscribe(live.user_channel(container.keys, me.id))
    try:
        await publish(container, _achievement(gym_id, me.id, 7))
        await deliver(container, rt)
        message = None
        for _ in range(50):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message:
                break
        assert message is not None
        frame = json.loads(message["data"])
        assert frame["type"] == "notification.created"
        assert frame["data"]["title"] == "Achievement unlocked: 7-day streak"
    finally:
        await pubsub.aclose()


async def test_preferences_default_then_stored_per_event_and_channel(
    client: httpx.AsyncClient, container: Container
) -> None:
    me = await signed_in(client, container, gym_id=await make_gym(container))
    defaults = (await client.get("/users/me/notification-preferences", headers=me.headers)).json()
    assert defaults["events"]["booking.reminder"] == ["email", "push", "in_app"]
    assert defaults["quiet_hours"] is None
    assert defaults["timezone"] == "Europe/Berlin"
    body = {
        "events": {"booking.reminder": ["in_app", "push", "push"]},
        "quiet_hours": {"start": "22:00", "end": "07:00"},
    }
    stored = await client.put("/users/me/notification-preferences", headers=me.headers, json=body)
    assert stored.status_code == 200
    again = (await client.get("/users/me/notification-preferences", headers=me.headers)).json()
    assert again["events"]["booking.reminder"] == ["push", "in_app"]
    assert again["events"]["booking.created"] == ["email", "push", "in_app"]
    assert again["quiet_hours"] == {"start": "22:00", "end": "07:00"}


@pytest.mark.parametrize(
    "body",
    [
        {"events": {"booking.exploded": ["email"]}},
        {"events": {"booking.reminder": ["pigeon"]}},
        {"quiet_hours": {"start": "25:00", "end": "07:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"phone": "0151 1234"},
        {"surprise": True},
    ],
)
async def test_bad_preferences_are_422(
    client: httpx.AsyncClient, container: Container, body: dict[str, object]
) -> None:
    me = await signed_in(client, container, gym_id=await make_gym(container))
    response = await client.put("/users/me/notification-preferences", headers=me.headers, json=body)
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_quiet_hours_hold_non_urgent_sends_until_morning(
    client: httpx.AsyncClient,
    container: Container,
    rt: NotificationsRuntime,
    admin_engine: AsyncEngine,
    timeline: Timeline,
) -> None:
    from datetime import UTC, datetime

    me = await signed_in(client, container, gym_id=await make_gym(container))
    response = await client.put(
        "/users/me/notification-preferences",
        headers=me.headers,
        json={
            "events": {"achievement.earned": ["email", "in_app"]},
            "quiet_hours": {"start": "22:00", "end": "07:00"},
        },
    )
    assert response.status_code == 200, response.text
    await consume(container)
    timeline.at = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    await publish(container, _achievement(me.gym_id, me.id, 3))  # type: ignore[arg-type]
    await deliver(container, rt)
    async with admin_engine.connect() as conn:
        rows = {
            r.channel: r
            for r in await conn.execute(
                text(
                    "SELECT channel, status, next_attempt_at FROM notifications.deliveries"
                    " WHERE event_type = 'achievement.earned'"
                )
            )
        }
    assert rows["in_app"].status == "sent"  # silent: never held back
    assert rows["email"].status == "pending"
    assert rows["email"].next_attempt_at == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 07:00 CET
    timeline.advance(timedelta(hours=8))
    await notifications.dispatch_once(rt)
    async with admin_engine.connect() as conn:
        status = await conn.scalar(
            text(
                "SELECT status FROM notifications.deliveries"
                " WHERE event_type = 'achievement.earned' AND channel = 'email'"
            )
        )
    assert status == "sent"


async def test_retention_cleanup_drops_old_inbox_items(
    client: httpx.AsyncClient,
    container: Container,
    rt: NotificationsRuntime,
    admin_engine: AsyncEngine,
) -> None:
    me = await signed_in(client, container, gym_id=await make_gym(container))
    for n in range(3):
        await publish(container, _achievement(me.gym_id, me.id, n))  # type: ignore[arg-type]
    await deliver(container, rt)
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE notifications.inbox SET created_at = now() - interval '181 days'"
                ' WHERE doc @> \'{"data": {"code": "streak-0"}}\''
            )
        )
    assert await notifications.cleanup(rt) >= 1
    left = (await client.get("/notifications", headers=me.headers)).json()
    assert {i["data"].get("code") for i in left["items"]} == {"streak-1", "streak-2", None}


async def test_concurrent_dispatchers_send_each_delivery_once(
    client: httpx.AsyncClient,
    container: Container,
    rt: NotificationsRuntime,
    admin_engine: AsyncEngine,
) -> None:
    me = await signed_in(client, container, gym_id=await make_gym(container))
    for n in range(30):
        await publish(container, _achievement(me.gym_id, me.id, n))  # type: ignore[arg-type]
    await consume(container)
    await asyncio.gather(*(notifications.dispatch_once(rt, batch=7) for _ in range(8)))
    while await notifications.dispatch_once(rt):
        pass
    async with admin_engine.connect() as conn:
        inbox = await conn.scalar(text("SELECT count(*) FROM notifications.inbox"))
    assert inbox == 31  # 30 achievements and the welcome, each once
