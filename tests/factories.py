"""Arrange state through the contexts' public APIs (no HTTP, no raw SQL)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from fitsync.bootstrap import Container
from fitsync.gyms.models import Gym
from fitsync.identity import public as identity
from fitsync.kernel.auth import Role
from fitsync.kernel.db import transaction

PASSWORD = "correct-horse-battery-9"


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    role: Role
    gym_id: uuid.UUID | None
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_gym(
    container: Container, name: str = "Test Gym", tz: str = "Europe/Berlin"
) -> uuid.UUID:
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        gym = Gym(name=name, timezone=tz, currency="EUR")
        session.add(gym)
        await session.flush()
        return gym.id


async def make_user(
    container: Container,
    *,
    role: Role = Role.client,
    gym_id: uuid.UUID | None = None,
    email: str | None = None,
    password: str = PASSWORD,
) -> Account:
    email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        user, _ = await identity.create_user(
            session,
            container.identity,
            actor_id=None,
            email=email,
            first_name="Test",
            last_name=role.value.title(),
            role=role,
            gym_id=None if role is Role.admin else gym_id,
            password=password,
        )
    return Account(id=user.id, email=email, role=role, gym_id=user.gym_id)


async def login(client: httpx.AsyncClient, account: Account, password: str = PASSWORD) -> Account:
    response = await client.post("/auth/login", json={"email": account.email, "password": password})
    assert response.status_code == 200, response.text
    return Account(
        id=account.id,
        email=account.email,
        role=account.role,
        gym_id=account.gym_id,
        token=response.json()["access_token"],
    )


async def signed_in(
    client: httpx.AsyncClient,
    container: Container,
    *,
    role: Role = Role.client,
    gym_id: uuid.UUID | None = None,
) -> Account:
    return await login(client, await make_user(container, role=role, gym_id=gym_id))


async def coach(client: httpx.AsyncClient, trainer: Account, member: Account) -> None:
    """Make ``trainer`` one of ``member``'s trainers (the training context owns the link)."""
    response = await client.put(
        f"/trainers/{trainer.id}/clients/{member.id}", headers=trainer.headers
    )
    assert response.status_code in (200, 201), response.text
