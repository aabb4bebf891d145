"""Scheduling fixtures: a gym with an owner, a trainer and clients, and a clock to move.

Users are created through identity's public API without passwords (no argon2 cost)
and get real access tokens from the token service, so a hundred clients are cheap.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.gyms.models import Gym
from fitsync.identity import public as identity
from fitsync.kernel import clock
from fitsync.kernel.auth import Role
from fitsync.kernel.db import transaction

# Mondays to Sundays, 07:00-21:00: the trainer of the default gym is bookable all week.
ALL_WEEK = [{"weekday": d, "start_time": "07:00", "end_time": "21:00"} for d in range(1, 8)]


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    role: Role
    gym_id: uuid.UUID | None
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    gym_id: uuid.UUID
    owner: User
    trainer: User
    clients: list[User] = field(default_factory=list)

    @property
    def client(self) -> User:
        return self.clients[0]


async def make_account(container: Container, *, role: Role, gym_id: uuid.UUID | None) -> User:
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        user, _ = await identity.create_user(
            session,
            container.identity,
            actor_id=None,
            email=f"{role.value}-{uuid.uuid4().hex[:10]}@example.com",
            first_name="Test",
            last_name=role.value.title(),
            role=role,
            gym_id=gym_id,
            password=None,
        )
    frozen = clock.set_clock(clock.Clock())  # tokens are checked against the real time
    try:
        token = container.tokens.issue(
            user_id=user.id, role=role.value, gym_id=gym_id, sid=uuid.uuid4()
        )
    finally:
        clock.set_clock(frozen)
    return User(id=user.id, role=role, gym_id=gym_id, token=token)


async def make_world(
    container: Container,
    *,
    clients: int = 3,
    tz: str = "Europe/Berlin",
    settings: dict[str, Any] | None = None,
) -> World:
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        gym = Gym(
            name=f"Gym {uuid.uuid4().hex[:6]}",
            timezone=tz,
            currency="EUR",
            settings={"booking_horizon_days": 365, **(settings or {})},
        )
        session.add(gym)
        await session.flush()
        gym_id = gym.id
    world = World(
        gym_id=gym_id,
        owner=await make_account(container, role=Role.gym_owner, gym_id=gym_id),
        trainer=await make_account(container, role=Role.trainer, gym_id=gym_id),
    )
    for _ in range(clients):
        world.clients.append(await make_account(container, role=Role.client, gym_id=gym_id))
    return world


@pytest.fixture
async def world(container: Container) -> World:
    return await make_world(container)


@pytest.fixture
def set_now() -> Iterator[Callable[[datetime], None]]:
    """Freeze scheduling's clock at a given instant (tokens were issued already)."""
    frozen = clock.FrozenClock(datetime.now(UTC))
    previous = clock.set_clock(frozen)

    def move(at: datetime) -> None:
        frozen.at = at

    yield move
    clock.set_clock(previous)


def in_days(days: float, *, hour: int = 10) -> datetime:
    """A round instant ``days`` from now at ``hour``:00 UTC."""
    base = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days)


async def create_class(
    client: httpx.AsyncClient,
    world: World,
    *,
    capacity: int = 10,
    starts_at: datetime | None = None,
    duration: int = 60,
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        "/classes",
        headers=world.trainer.headers,
        json={
            "title": "Spin",
            "trainer_id": str(world.trainer.id),
            "starts_at": (starts_at or in_days(3)).isoformat(),
            "duration_minutes": duration,
            "capacity": capacity,
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def book_class(
    client: httpx.AsyncClient, user: User, class_id: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/bookings", headers=user.headers, json={"class_id": class_id, **extra}
    )


async def set_hours(
    client: httpx.AsyncClient, world: World, rules: list[dict[str, Any]] | None = None, **extra: Any
) -> None:
    response = await client.put(
        f"/trainers/{world.trainer.id}/availability",
        headers=world.trainer.headers,
        json={"rules": ALL_WEEK if rules is None else rules, **extra},
    )
    assert response.status_code == 200, response.text


async def outbox_events(admin_engine: AsyncEngine, type_: str) -> list[dict[str, Any]]:
    async with admin_engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT data FROM kernel.outbox WHERE type = :t ORDER BY seq"), {"t": type_}
        )
        return [r[0] for r in rows]


async def scalar(admin_engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with admin_engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()
