"""1:1 appointments: the trainer's (and the client's) time can be taken once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from tests.scheduling.conftest import (
    World,
    make_account,
    make_world,
    outbox_events,
    scalar,
    set_hours,
)

NOW = datetime(2027, 3, 15, 8, tzinfo=UTC)
SLOT = "2027-03-22T10:00:00+01:00"  # Monday 10:00 in Berlin


def appointment(
    world: World, starts_at: str = SLOT, minutes: int = 60, **extra: Any
) -> dict[str, Any]:
    return {
        "trainer_id": str(world.trainer.id),
        "starts_at": starts_at,
        "duration_minutes": minutes,
        **extra,
    }


@pytest.fixture
async def open_world(
    client: httpx.AsyncClient, container: Container, set_now: Callable[[datetime], None]
) -> World:
    world = await make_world(container, clients=3, settings={"session_buffer_minutes": 15})
    set_now(NOW)
    await set_hours(client, world, slot_minutes=30, durations=[30, 60])
    return world


async def test_client_books_a_free_slot(
    client: httpx.AsyncClient, open_world: World, admin_engine: AsyncEngine
) -> None:
    world = open_world
    response = await client.post("/bookings", headers=world.client.headers, json=appointment(world))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    assert body["class_id"] is None
    assert body["client_id"] == str(world.client.id)
    assert body["trainer_id"] == str(world.trainer.id)
    assert body["starts_at"] == "2027-03-22T09:00:00Z"
    assert body["ends_at"] == "2027-03-22T10:00:00Z"
    assert body["late_cancel"] is False
    assert body["waitlist_position"] is None
    created = await outbox_events(admin_engine, "booking.created")
    assert [e["booking_id"] for e in created] == [body["id"]]
    reminders = await scalar(
        admin_engine,
        "SELECT count(*) FROM scheduling.reminders WHERE booking_id = :b",
        b=body["id"],
    )
    assert reminders == 2


async def test_taken_slot_is_409_without_naming_the_other_client(
    client: httpx.AsyncClient, open_world: World
) -> None:
    world = open_world
    first = await client.post(
        "/bookings", headers=world.clients[0].headers, json=appointment(world)
    )
    assert first.status_code == 201
    overlapping = appointment(world, starts_at="2027-03-22T10:30:00+01:00", minutes=30)
    refused = await client.post("/bookings", headers=world.clients[1].headers, json=overlapping)
    assert refused.status_code == 409
    conflict = refused.json()["conflicts_with"]
    assert conflict["starts_at"].startswith("2027-03-22T09:00:00")
    assert "client_id" not in conflict
    assert str(world.clients[0].id) not in refused.text
    as_owner = await client.post(
        "/bookings",
        headers=world.owner.headers,
        json={**overlapping, "client_id": str(world.clients[1].id)},
    )
    assert as_owner.status_code == 409
    assert as_owner.json()["conflicts_with"]["client_id"] == str(world.clients[0].id)


async def test_buffer_keeps_sessions_apart(client: httpx.AsyncClient, open_world: World) -> None:
    world = open_world
    assert (
        await client.post("/bookings", headers=world.clients[0].headers, json=appointment(world))
    ).status_code == 201
    right_after = appointment(world, starts_at="2027-03-22T11:00:00+01:00", minutes=30)
    assert (
        await client.post("/bookings", headers=world.clients[1].headers, json=right_after)
    ).status_code == 409
    after_buffer = appointment(world, starts_at="2027-03-22T11:30:00+01:00", minutes=30)
    assert (
        await client.post("/bookings", headers=world.clients[1].headers, json=after_buffer)
    ).status_code == 201


async def test_a_client_cannot_be_in_two_places(
    client: httpx.AsyncClient, container: Container, open_world: World
) -> None:
    world = open_world
    other_trainer = await make_account(container, role=Role.trainer, gym_id=world.gym_id)
    await client.put(
        f"/trainers/{other_trainer.id}/availability",
        headers=world.owner.headers,
        json={"rules": [{"weekday": 1, "start_time": "07:00", "end_time": "21:00"}]},
    )
    assert (
        await client.post("/bookings", headers=world.client.headers, json=appointment(world))
    ).status_code == 201
    clash = {**appointment(world), "trainer_id": str(other_trainer.id)}
    response = await client.post("/bookings", headers=world.client.headers, json=clash)
    assert response.status_code == 409
    assert response.json()["conflicts_with"]["client_id"] == str(world.client.id)


@pytest.mark.parametrize(
    ("starts_at", "minutes", "loc"),
    [
        ("2027-03-22T10:10:00+01:00", 60, "starts_at"),  # off the 30-minute grid
        ("2027-03-22T06:00:00+01:00", 60, "starts_at"),  # before opening
        ("2027-03-22T20:30:00+01:00", 60, "starts_at"),  # would end after closing
        ("2027-03-14T10:00:00+01:00", 60, "starts_at"),  # in the past
        ("2027-03-22T10:00:00+01:00", 45, "duration_minutes"),  # not offered
    ],
)
async def test_bad_slots_are_422(
    client: httpx.AsyncClient, open_world: World, starts_at: str, minutes: int, loc: str
) -> None:
    response = await client.post(
        "/bookings",
        headers=open_world.client.headers,
        json=appointment(open_world, starts_at=starts_at, minutes=minutes),
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", loc]


async def test_cancelling_frees_the_time(
    client: httpx.AsyncClient, open_world: World, admin_engine: AsyncEngine
) -> None:
    world = open_world
    booked = await client.post(
        "/bookings", headers=world.clients[0].headers, json=appointment(world)
    )
    cancelled = await client.post(
        f"/bookings/{booked.json()['id']}/cancel", headers=world.clients[0].headers
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["late_cancel"] is False
    again = await client.post(
        "/bookings", headers=world.clients[1].headers, json=appointment(world)
    )
    assert again.status_code == 201
    events = await outbox_events(admin_engine, "booking.cancelled")
    assert [e["booking_id"] for e in events] == [booked.json()["id"]]


async def test_staff_books_for_a_client_and_trainers_only_for_themselves(
    client: httpx.AsyncClient, container: Container, open_world: World
) -> None:
    world = open_world
    missing_client = await client.post(
        "/bookings", headers=world.trainer.headers, json=appointment(world)
    )
    assert missing_client.status_code == 422
    for_client = await client.post(
        "/bookings",
        headers=world.trainer.headers,
        json=appointment(world, client_id=str(world.client.id)),
    )
    assert for_client.status_code == 201
    assert for_client.json()["client_id"] == str(world.client.id)
    colleague = await make_account(container, role=Role.trainer, gym_id=world.gym_id)
    response = await client.post(
        "/bookings",
        headers=colleague.headers,
        json=appointment(
            world, starts_at="2027-03-22T15:00:00+01:00", client_id=str(world.client.id)
        ),
    )
    assert response.status_code == 403
    for_someone_else = await client.post(
        "/bookings",
        headers=world.clients[1].headers,
        json=appointment(world, client_id=str(world.clients[2].id)),
    )
    assert for_someone_else.status_code == 403


async def test_other_gyms_trainer_is_404(
    client: httpx.AsyncClient, container: Container, open_world: World
) -> None:
    other = await make_world(container, clients=1)
    response = await client.post(
        "/bookings", headers=other.client.headers, json=appointment(open_world)
    )
    assert response.status_code == 404


async def test_late_cancellation_is_recorded(
    client: httpx.AsyncClient, open_world: World, set_now: Callable[[datetime], None]
) -> None:
    world = open_world
    booked = await client.post("/bookings", headers=world.client.headers, json=appointment(world))
    set_now(datetime(2027, 3, 22, 9, tzinfo=UTC) - timedelta(hours=3))  # window: 12 h
    cancelled = await client.post(
        f"/bookings/{booked.json()['id']}/cancel", headers=world.client.headers
    )
    assert cancelled.json()["late_cancel"] is True
