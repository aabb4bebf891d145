"""Class bookings: seats, waitlist, cancellation, attendance, idempotency, access."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from tests.scheduling.conftest import (
    User,
    World,
    book_class,
    create_class,
    in_days,
    make_account,
    make_world,
    outbox_events,
    scalar,
)


async def test_booking_a_class_takes_a_seat(
    client: httpx.AsyncClient, world: World, admin_engine: AsyncEngine
) -> None:
    created = await create_class(client, world, capacity=2)
    response = await book_class(client, world.client, created["id"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "confirmed"
    assert body["class_id"] == created["id"]
    assert body["trainer_id"] == str(world.trainer.id)
    assert body["starts_at"] == created["starts_at"]
    assert body["ends_at"] == created["ends_at"]
    [event] = await outbox_events(admin_engine, "booking.created")
    assert event["booking_id"] == body["id"]
    assert event["status"] == "confirmed"
    twice = await book_class(client, world.client, created["id"])
    assert twice.status_code == 409
    assert twice.json()["booking_id"] == body["id"]


async def test_full_class_puts_client_on_waitlist(client: httpx.AsyncClient, world: World) -> None:
    created = await create_class(client, world, capacity=1)
    await book_class(client, world.clients[0], created["id"])
    refused = await book_class(client, world.clients[1], created["id"])
    assert refused.status_code == 409
    first = await book_class(client, world.clients[1], created["id"], join_waitlist=True)
    second = await book_class(client, world.clients[2], created["id"], join_waitlist=True)
    assert first.json()["status"] == "waitlisted"
    assert first.json()["waitlist_position"] == 1
    assert second.json()["waitlist_position"] == 2
    mine = await client.get(f"/bookings/{second.json()['id']}", headers=world.clients[2].headers)
    assert mine.json()["waitlist_position"] == 2


async def test_cancellation_promotes_the_first_waitlisted_once(
    client: httpx.AsyncClient, world: World, admin_engine: AsyncEngine
) -> None:
    created = await create_class(client, world, capacity=1)
    seat = await book_class(client, world.clients[0], created["id"])
    first = await book_class(client, world.clients[1], created["id"], join_waitlist=True)
    second = await book_class(client, world.clients[2], created["id"], join_waitlist=True)
    cancelled = await client.post(
        f"/bookings/{seat.json()['id']}/cancel", headers=world.clients[0].headers
    )
    assert cancelled.status_code == 200
    promoted = await client.get(f"/bookings/{first.json()['id']}", headers=world.clients[1].headers)
    assert promoted.json()["status"] == "confirmed"
    assert promoted.json()["waitlist_position"] is None
    moved_up = await client.get(
        f"/bookings/{second.json()['id']}", headers=world.clients[2].headers
    )
    assert moved_up.json()["waitlist_position"] == 1
    events = await outbox_events(admin_engine, "waitlist.promoted")
    assert [e["booking_id"] for e in events] == [first.json()["id"]]
    again = await client.post(
        f"/bookings/{seat.json()['id']}/cancel", headers=world.clients[0].headers
    )
    assert again.status_code == 409
    assert len(await outbox_events(admin_engine, "waitlist.promoted")) == 1


async def test_two_racing_cancellations_promote_two_different_bookings(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    world = await make_world(container, clients=6)
    created = await create_class(client, world, capacity=2)
    seats = [await book_class(client, c, created["id"]) for c in world.clients[:2]]
    waiting = [
        await book_class(client, c, created["id"], join_waitlist=True) for c in world.clients[2:]
    ]
    await asyncio.gather(
        *(
            client.post(f"/bookings/{s.json()['id']}/cancel", headers=c.headers)
            for s, c in zip(seats, world.clients[:2], strict=True)
        )
    )
    events = await outbox_events(admin_engine, "waitlist.promoted")
    assert sorted(e["booking_id"] for e in events) == sorted(w.json()["id"] for w in waiting[:2])
    counts = await client.get(f"/classes/{created['id']}", headers=world.client.headers)
    assert counts.json()["booked"] == 2
    assert counts.json()["waitlist"] == 2


async def test_late_cancellation_inside_the_gym_window(
    client: httpx.AsyncClient, world: World, set_now: Callable[[datetime], None]
) -> None:
    start = in_days(3)
    created = await create_class(client, world, starts_at=start)
    early = await book_class(client, world.clients[0], created["id"])
    late = await book_class(client, world.clients[1], created["id"])
    waitlisted_is_never_late = await book_class(client, world.clients[2], created["id"])
    set_now(start - timedelta(hours=13))
    on_time = await client.post(
        f"/bookings/{early.json()['id']}/cancel", headers=world.clients[0].headers
    )
    set_now(start - timedelta(hours=11))  # default window: 12 hours
    too_late = await client.post(
        f"/bookings/{late.json()['id']}/cancel", headers=world.clients[1].headers
    )
    assert on_time.json()["late_cancel"] is False
    assert too_late.json()["late_cancel"] is True
    set_now(start + timedelta(minutes=5))
    after_start = await client.post(
        f"/bookings/{waitlisted_is_never_late.json()['id']}/cancel",
        headers=world.clients[2].headers,
    )
    assert after_start.status_code == 409


async def test_check_in_and_no_show_are_for_staff(
    client: httpx.AsyncClient, world: World, set_now: Callable[[datetime], None]
) -> None:
    start = in_days(2)
    created = await create_class(client, world, starts_at=start)
    comes = await book_class(client, world.clients[0], created["id"])
    skips = await book_class(client, world.clients[1], created["id"])
    path = f"/bookings/{comes.json()['id']}/check-in"
    assert (await client.post(path, headers=world.trainer.headers)).status_code == 409  # too early
    set_now(start - timedelta(minutes=10))
    assert (await client.post(path, headers=world.clients[0].headers)).status_code == 403
    checked = await client.post(path, headers=world.trainer.headers)
    assert checked.status_code == 200
    assert checked.json()["status"] == "attended"
    no_show_path = f"/bookings/{skips.json()['id']}/no-show"
    assert (await client.post(no_show_path, headers=world.owner.headers)).status_code == 409
    set_now(start + timedelta(minutes=10))
    marked = await client.post(no_show_path, headers=world.owner.headers)
    assert marked.json()["status"] == "no_show"
    counts = await client.get(f"/classes/{created['id']}", headers=world.client.headers)
    assert counts.json()["booked"] == 2


async def test_booking_a_cancelled_class_is_409(client: httpx.AsyncClient, world: World) -> None:
    created = await create_class(client, world)
    await client.post(f"/classes/{created['id']}/cancel", headers=world.owner.headers)
    response = await book_class(client, world.client, created["id"])
    assert response.status_code == 409
    assert "cancelled" in response.json()["detail"]


async def test_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, world: World, admin_engine: AsyncEngine
) -> None:
    created = await create_class(client, world)
    headers = {**world.client.headers, "Idempotency-Key": "k-123"}
    body = {"class_id": created["id"]}
    first, second = await asyncio.gather(
        client.post("/bookings", headers=headers, json=body),
        client.post("/bookings", headers=headers, json=body),
    )
    third = await client.post("/bookings", headers=headers, json=body)
    assert first.status_code == second.status_code == third.status_code == 201
    assert first.json() == second.json() == third.json()
    assert await scalar(admin_engine, "SELECT count(*) FROM scheduling.bookings") == 1
    assert len(await outbox_events(admin_engine, "booking.created")) == 1
    other = await create_class(client, world, starts_at=in_days(5))
    different = await client.post("/bookings", headers=headers, json={"class_id": other["id"]})
    assert different.status_code == 422
    # The key is the caller's: another client may use the same string.
    theirs = await client.post(
        "/bookings", headers={**world.clients[1].headers, "Idempotency-Key": "k-123"}, json=body
    )
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]


async def test_clients_see_only_their_own_bookings(
    client: httpx.AsyncClient, container: Container, world: World
) -> None:
    created = await create_class(client, world)
    mine = await book_class(client, world.clients[0], created["id"])
    theirs = await book_class(client, world.clients[1], created["id"])
    listed = await client.get("/bookings", headers=world.clients[0].headers)
    assert [b["id"] for b in listed.json()["items"]] == [mine.json()["id"]]
    for verb in ("get", "post"):
        path = f"/bookings/{theirs.json()['id']}" + ("/cancel" if verb == "post" else "")
        response = await client.request(verb, path, headers=world.clients[0].headers)
        assert response.status_code == 404
    staff = await client.get("/bookings", headers=world.trainer.headers)
    assert len(staff.json()["items"]) == 2
    other = await make_world(container, clients=1)
    assert (await client.get("/bookings", headers=other.owner.headers)).json()["items"] == []
    response = await client.get(f"/bookings/{mine.json()['id']}", headers=other.owner.headers)
    assert response.status_code == 404
    response = await book_class(client, other.client, created["id"])
    assert response.status_code == 404


async def test_bookings_page_by_cursor(client: httpx.AsyncClient, world: World) -> None:
    for day in range(1, 6):
        created = await create_class(client, world, starts_at=in_days(day))
        await book_class(client, world.client, created["id"])
    first = await client.get("/bookings", headers=world.client.headers, params={"limit": 3})
    assert len(first.json()["items"]) == 3
    assert first.json()["next_cursor"]
    rest = await client.get(
        "/bookings",
        headers=world.client.headers,
        params={"limit": 3, "cursor": first.json()["next_cursor"]},
    )
    assert len(rest.json()["items"]) == 2
    assert rest.json()["next_cursor"] is None
    starts = [b["starts_at"] for b in first.json()["items"] + rest.json()["items"]]
    assert starts == sorted(starts)


async def test_bad_booking_bodies_are_422(client: httpx.AsyncClient, world: World) -> None:
    for body in (
        {},
        {"class_id": "not-a-uuid"},
        {"trainer_id": str(world.trainer.id)},
        {"class_id": str(world.trainer.id), "trainer_id": str(world.trainer.id)},
        {"class_id": str(world.trainer.id), "surprise": 1},
    ):
        response = await client.post("/bookings", headers=world.client.headers, json=body)
        assert response.status_code == 422, body


async def test_listing_bookings_costs_the_same_queries_for_one_or_many(
    client: httpx.AsyncClient, container: Container, world: World
) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    async def listed(user: User) -> int:
        statements.clear()
        event.listen(container.engine.sync_engine, "before_cursor_execute", count)
        try:
            response = await client.get("/bookings", headers=user.headers)
        finally:
            event.remove(container.engine.sync_engine, "before_cursor_execute", count)
        assert response.status_code == 200
        return len(statements)

    created = await create_class(client, world, capacity=20)
    await book_class(client, world.clients[0], created["id"])
    one = await listed(world.trainer)
    for c in world.clients[1:]:
        await book_class(client, c, created["id"])
    assert await listed(world.trainer) == one
    colleague = await make_account(container, role=Role.trainer, gym_id=world.gym_id)
    response = await client.get("/bookings", headers=colleague.headers)
    assert response.json()["items"] == []  # trainers see their own sessions' bookings
