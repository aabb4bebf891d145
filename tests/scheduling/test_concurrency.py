"""Invariants under concurrency: many requests at once through the HTTP API, checked
afterwards in the database."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from tests.scheduling.conftest import (
    User,
    book_class,
    create_class,
    make_account,
    make_world,
    set_hours,
)


async def many_clients(container: Container, gym_id: Any, n: int) -> list[User]:
    return [await make_account(container, role=Role.client, gym_id=gym_id) for _ in range(n)]


async def class_state(admin_engine: AsyncEngine, class_id: str) -> dict[str, Any]:
    async with admin_engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT booked, waitlisted, capacity FROM scheduling.sessions WHERE id = :c"),
                {"c": class_id},
            )
        ).one()
        confirmed = [
            str(r[0])
            for r in await conn.execute(
                text(
                    "SELECT id FROM scheduling.bookings WHERE session_id = :c"
                    " AND status = 'confirmed'"
                ),
                {"c": class_id},
            )
        ]
        waitlist = [
            str(r[0])
            for r in await conn.execute(
                text(
                    "SELECT id FROM scheduling.bookings WHERE session_id = :c"
                    " AND status = 'waitlisted' ORDER BY waitlist_seq"
                ),
                {"c": class_id},
            )
        ]
    return {
        "booked": row.booked,
        "waitlisted": row.waitlisted,
        "capacity": row.capacity,
        "confirmed": confirmed,
        "waitlist": waitlist,
    }


async def test_hundred_clients_on_a_ten_seat_class(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    world = await make_world(container, clients=0)
    created = await create_class(client, world, capacity=10)
    clients = await many_clients(container, world.gym_id, 100)

    responses = await asyncio.gather(
        *(
            book_class(client, c, created["id"], join_waitlist=i % 2 == 0)
            for i, c in enumerate(clients)
        )
    )
    statuses = [r.json()["status"] if r.status_code == 201 else r.status_code for r in responses]
    confirmed = statuses.count("confirmed")
    waitlisted = statuses.count("waitlisted")
    refused = statuses.count(409)
    assert confirmed == 10
    assert waitlisted + refused == 90
    assert set(statuses) <= {"confirmed", "waitlisted", 409}
    positions = sorted(
        r.json()["waitlist_position"]
        for r in responses
        if r.status_code == 201 and r.json()["status"] == "waitlisted"
    )
    assert positions == list(range(1, waitlisted + 1))

    state = await class_state(admin_engine, created["id"])
    assert state["booked"] == len(state["confirmed"]) == 10
    assert state["waitlisted"] == len(state["waitlist"]) == waitlisted
    async with admin_engine.connect() as conn:
        events = (
            await conn.execute(
                text("SELECT count(*) FROM kernel.outbox WHERE type = 'booking.created'")
            )
        ).scalar()
    assert events == confirmed + waitlisted


async def test_fifty_concurrent_requests_for_overlapping_slots_get_exactly_one(
    client: httpx.AsyncClient,
    container: Container,
    admin_engine: AsyncEngine,
    set_now: Callable[[datetime], None],
) -> None:
    world = await make_world(container, clients=0)
    clients = await many_clients(container, world.gym_id, 50)
    set_now(datetime(2027, 3, 15, 8, tzinfo=UTC))
    await set_hours(client, world, slot_minutes=30, durations=[90])
    starts = ["2027-03-22T10:00:00+01:00", "2027-03-22T10:30:00+01:00", "2027-03-22T09:30:00+01:00"]

    async def attempt(i: int, user: User) -> int:
        body = {
            "trainer_id": str(world.trainer.id),
            "starts_at": starts[i % 3],
            "duration_minutes": 90,  # any two of these overlap
        }
        response = await client.post("/bookings", headers=user.headers, json=body)
        return response.status_code

    codes = await asyncio.gather(*(attempt(i, u) for i, u in enumerate(clients)))
    assert sorted(codes) == [201] + [409] * 49
    async with admin_engine.connect() as conn:
        taken = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM scheduling.sessions"
                    " WHERE trainer_id = :t AND status = 'scheduled'"
                ),
                {"t": world.trainer.id},
            )
        ).scalar()
        bookings = (await conn.execute(text("SELECT count(*) FROM scheduling.bookings"))).scalar()
    assert taken == 1
    assert bookings == 1


@dataclass
class SerialClass:
    """The class as a serial replay sees it: seats, then a first-come waitlist."""

    capacity: int
    confirmed: set[str] = field(default_factory=set)
    waitlist: list[str] = field(default_factory=list)

    def book(self, booking_id: str) -> str:
        if len(self.confirmed) < self.capacity:
            self.confirmed.add(booking_id)
            return "confirmed"
        self.waitlist.append(booking_id)
        return "waitlisted"

    def cancel(self, booking_id: str) -> str | None:
        """Returns the booking promoted in consequence, if any."""
        if booking_id in self.waitlist:
            self.waitlist.remove(booking_id)
            return None
        self.confirmed.remove(booking_id)
        if self.waitlist:
            promoted = self.waitlist.pop(0)
            self.confirmed.add(promoted)
            return promoted
        return None


async def test_random_book_cancel_interleavings_equal_a_serial_replay(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    rng = random.Random(20261123)
    world = await make_world(container, clients=0)
    capacity = 5
    created = await create_class(client, world, capacity=capacity)
    class_id = created["id"]
    clients = await many_clients(container, world.gym_id, 25)
    active: dict[int, str | None] = dict.fromkeys(range(len(clients)))
    accepted_books: set[str] = set()
    accepted_cancels: set[str] = set()

    async def act(i: int) -> None:
        user, mine = clients[i], active[i]
        if mine is not None and rng.random() < 0.6:
            response = await client.post(f"/bookings/{mine}/cancel", headers=user.headers)
            assert response.status_code == 200, response.text
            accepted_cancels.add(mine)
            active[i] = None
            return
        response = await book_class(client, user, class_id, join_waitlist=rng.random() < 0.8)
        if response.status_code == 201:
            accepted_books.add(response.json()["id"])
            active[i] = response.json()["id"]
        else:  # full without the waitlist, or already booked
            assert response.status_code == 409, response.text

    operations = 0
    for _ in range(8):
        batch = rng.sample(range(len(clients)), 25)
        await asyncio.gather(*(act(i) for i in batch))
        operations += len(batch)
    assert operations == 200

    async with admin_engine.connect() as conn:
        log = (
            await conn.execute(
                text(
                    "SELECT type, data FROM kernel.outbox WHERE data->>'class_id' = :c ORDER BY seq"
                ),
                {"c": class_id},
            )
        ).all()
    # The outbox rows of one class are written under its row lock: their order is the
    # order in which the operations took effect.
    model = SerialClass(capacity)
    promotions: list[str] = []
    expected_promotion: str | None = None
    booked_ids, cancelled_ids = set(), set()
    for kind, data in log:
        booking_id = data["booking_id"]
        if kind == "waitlist.promoted":
            assert booking_id == expected_promotion, "a promotion the serial replay did not make"
            promotions.append(booking_id)
            expected_promotion = None
            continue
        assert expected_promotion is None, "a promotion the system did not make"
        if kind == "booking.created":
            assert data["status"] == model.book(booking_id)
            booked_ids.add(booking_id)
        elif kind == "booking.cancelled":
            expected_promotion = model.cancel(booking_id)
            cancelled_ids.add(booking_id)
        assert len(model.confirmed) <= capacity
    assert expected_promotion is None
    assert len(promotions) == len(set(promotions)), "a booking was promoted twice"
    assert booked_ids == accepted_books
    assert cancelled_ids == accepted_cancels
    assert promotions, "the run should exercise the waitlist"

    state = await class_state(admin_engine, class_id)
    assert set(state["confirmed"]) == model.confirmed
    assert state["waitlist"] == model.waitlist
    assert state["booked"] == len(model.confirmed) <= capacity
    assert state["waitlisted"] == len(model.waitlist)
