"""Group classes: one-off and recurring, edits and cancellations."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from tests.scheduling.conftest import (
    World,
    book_class,
    create_class,
    in_days,
    make_world,
    outbox_events,
    scalar,
)

BERLIN = ZoneInfo("Europe/Berlin")


async def test_trainer_creates_a_class_members_see_counts(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await create_class(client, world, capacity=12, location="Studio 2")
    assert created["booked"] == 0
    assert created["capacity"] == 12
    assert created["waitlist"] == 0
    assert created["status"] == "scheduled"
    assert created["occurrences"] == 1
    await book_class(client, world.client, created["id"])
    listed = await client.get(
        "/classes",
        headers=world.clients[1].headers,
        params={"from": in_days(0).isoformat(), "to": in_days(30).isoformat()},
    )
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert {k: item[k] for k in ("id", "title", "booked", "capacity", "waitlist", "status")} == {
        "id": created["id"],
        "title": "Spin",
        "booked": 1,
        "capacity": 12,
        "waitlist": 0,
        "status": "scheduled",
    }
    assert str(world.client.id) not in listed.text  # counts, not names


async def test_clients_cannot_create_classes(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/classes",
        headers=world.client.headers,
        json={
            "title": "Mine",
            "trainer_id": str(world.trainer.id),
            "starts_at": in_days(2).isoformat(),
            "duration_minutes": 60,
            "capacity": 5,
        },
    )
    assert response.status_code == 403


async def test_weekly_recurrence_creates_occurrences_at_local_time(
    client: httpx.AsyncClient, world: World, admin_engine: AsyncEngine
) -> None:
    first = datetime(2027, 3, 1, 18, 30, tzinfo=BERLIN)  # a Monday
    created = await create_class(
        client, world, starts_at=first, recurrence="FREQ=WEEKLY;BYDAY=MO,WE;COUNT=20"
    )
    assert created["occurrences"] == 20
    assert created["series_id"]
    rows = await client.get(
        "/classes",
        headers=world.client.headers,
        params={"from": "2027-03-01T00:00:00Z", "limit": 100},
    )
    items = rows.json()["items"]
    assert len(items) == 20
    local = {
        datetime.fromisoformat(i["starts_at"]).astimezone(BERLIN).strftime("%H:%M") for i in items
    }
    assert local == {"18:30"}  # before and after 28 March
    assert {i["series_id"] for i in items} == {created["series_id"]}


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=FORTNIGHTLY", "FREQ must be one of"),
        ("FREQ=WEEKLY;BYDAY=MO;BYHOUR=abc", "BYHOUR"),
        ("FREQ=DAILY;COUNT=501", "more than 500"),
        ("FREQ=DAILY", "more than 500"),
    ],
)
async def test_bad_recurrence_is_422_with_the_reason(
    client: httpx.AsyncClient, world: World, rule: str, reason: str
) -> None:
    response = await client.post(
        "/classes",
        headers=world.trainer.headers,
        json={
            "title": "Yoga",
            "trainer_id": str(world.trainer.id),
            "starts_at": in_days(2).isoformat(),
            "duration_minutes": 60,
            "capacity": 5,
            "recurrence": rule,
        },
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["body", "recurrence"]


async def test_a_trainer_cannot_teach_two_classes_at_once(
    client: httpx.AsyncClient, world: World
) -> None:
    start = in_days(3)
    await create_class(client, world, starts_at=start)
    response = await client.post(
        "/classes",
        headers=world.owner.headers,
        json={
            "title": "Boxing",
            "trainer_id": str(world.trainer.id),
            "starts_at": start.replace(minute=30).isoformat(),
            "duration_minutes": 60,
            "capacity": 5,
        },
    )
    assert response.status_code == 409
    assert response.json()["conflicts_with"]["kind"] == "class"


async def test_cancelling_a_class_cancels_its_bookings(
    client: httpx.AsyncClient, world: World, admin_engine: AsyncEngine
) -> None:
    created = await create_class(client, world, capacity=1)
    seat = await book_class(client, world.clients[0], created["id"])
    waiting = await book_class(client, world.clients[1], created["id"], join_waitlist=True)
    assert waiting.json()["status"] == "waitlisted"
    cancelled = await client.post(f"/classes/{created['id']}/cancel", headers=world.trainer.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    for booking in (seat, waiting):
        got = await client.get(f"/bookings/{booking.json()['id']}", headers=world.owner.headers)
        assert got.json()["status"] == "cancelled"
    [event] = await outbox_events(admin_engine, "class.cancelled")
    assert sorted(event["client_ids"]) == sorted(
        [str(world.clients[0].id), str(world.clients[1].id)]
    )
    assert await outbox_events(admin_engine, "waitlist.promoted") == []
    again = await book_class(client, world.clients[2], created["id"])
    assert again.status_code == 409
    assert (
        await scalar(
            admin_engine, "SELECT count(*) FROM scheduling.reminders WHERE sent_at IS NULL"
        )
        == 0
    )


async def test_cancelling_the_rest_of_a_series(
    client: httpx.AsyncClient, world: World, admin_engine: AsyncEngine
) -> None:
    created = await create_class(
        client, world, starts_at=in_days(2), recurrence="FREQ=DAILY;COUNT=5"
    )
    items = (
        await client.get("/classes", headers=world.client.headers, params={"limit": 10})
    ).json()["items"]
    third = items[2]["id"]
    response = await client.post(
        f"/classes/{third}/cancel", headers=world.trainer.headers, json={"apply_to": "series"}
    )
    assert response.status_code == 200
    statuses = [
        i["status"]
        for i in (
            await client.get("/classes", headers=world.client.headers, params={"limit": 10})
        ).json()["items"]
    ]
    assert statuses == ["scheduled", "scheduled", "cancelled", "cancelled", "cancelled"]
    assert len(await outbox_events(admin_engine, "class.cancelled")) == 3
    assert created["occurrences"] == 5


async def test_raising_capacity_promotes_the_waitlist(
    client: httpx.AsyncClient, world: World, admin_engine: AsyncEngine
) -> None:
    created = await create_class(client, world, capacity=1)
    await book_class(client, world.clients[0], created["id"])
    waiting = await book_class(client, world.clients[1], created["id"], join_waitlist=True)
    lower = await client.patch(
        f"/classes/{created['id']}", headers=world.trainer.headers, json={"capacity": 1}
    )
    assert lower.status_code == 200
    raised = await client.patch(
        f"/classes/{created['id']}", headers=world.trainer.headers, json={"capacity": 2}
    )
    assert raised.json()["booked"] == 2
    assert raised.json()["waitlist"] == 0
    [promoted] = await outbox_events(admin_engine, "waitlist.promoted")
    assert promoted["booking_id"] == waiting.json()["id"]
    too_low = await client.patch(
        f"/classes/{created['id']}", headers=world.owner.headers, json={"capacity": 1}
    )
    assert too_low.status_code == 409


async def test_moving_a_class_moves_its_bookings(client: httpx.AsyncClient, world: World) -> None:
    created = await create_class(client, world, starts_at=in_days(3))
    booking = await book_class(client, world.client, created["id"])
    later = in_days(4, hour=15)
    moved = await client.patch(
        f"/classes/{created['id']}",
        headers=world.trainer.headers,
        json={"starts_at": later.isoformat(), "duration_minutes": 45},
    )
    assert moved.status_code == 200, moved.text
    got = await client.get(f"/bookings/{booking.json()['id']}", headers=world.client.headers)
    assert datetime.fromisoformat(got.json()["starts_at"]) == later
    assert (datetime.fromisoformat(got.json()["ends_at"]) - later).seconds == 45 * 60


async def test_roster_is_for_the_trainer_and_the_owner(
    client: httpx.AsyncClient, container: Container, world: World
) -> None:
    created = await create_class(client, world)
    await book_class(client, world.client, created["id"])
    path = f"/classes/{created['id']}/bookings"
    roster = await client.get(path, headers=world.trainer.headers)
    assert [b["client_id"] for b in roster.json()] == [str(world.client.id)]
    assert (await client.get(path, headers=world.owner.headers)).status_code == 200
    assert (await client.get(path, headers=world.client.headers)).status_code == 403
    other = await make_world(container, clients=0)
    assert (await client.get(path, headers=other.owner.headers)).status_code == 404
    assert (
        await client.get(f"/classes/{created['id']}", headers=other.owner.headers)
    ).status_code == 404


async def test_class_in_the_past_is_422(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/classes",
        headers=world.trainer.headers,
        json={
            "title": "Yesterday",
            "trainer_id": str(world.trainer.id),
            "starts_at": datetime(2020, 1, 1, tzinfo=UTC).isoformat(),
            "duration_minutes": 60,
            "capacity": 5,
        },
    )
    assert response.status_code == 422
