"""The trainer-client relation: who links whom, and what it opens up."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from fitsync.kernel.db import transaction
from fitsync.training import public as training
from tests.factories import signed_in
from tests.training.helpers import Gym, gym_with_people


@pytest.fixture
async def gym(client: httpx.AsyncClient, container: Container) -> Gym:
    return await gym_with_people(client, container)


async def test_owner_links_a_trainer_to_a_client(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    url = f"/trainers/{gym.trainer.id}/clients/{gym.client.id}"
    first = await client.put(url, headers=gym.owner.headers)
    assert first.status_code == 201, first.text
    again = await client.put(url, headers=gym.owner.headers)
    assert again.status_code == 200
    clients = await client.get(f"/trainers/{gym.trainer.id}/clients", headers=gym.trainer.headers)
    assert [i["client_id"] for i in clients.json()["items"]] == [str(gym.client.id)]
    trainers = await client.get(f"/clients/{gym.client.id}/trainers", headers=gym.client.headers)
    assert [i["trainer_id"] for i in trainers.json()["items"]] == [str(gym.trainer.id)]
    async with transaction(container.sessionmaker, gym_id=gym.id) as session:
        assert await training.is_trainer_of(
            session, trainer_id=gym.trainer.id, client_id=gym.client.id
        )
        assert await training.trainer_ids_of(session, gym.client.id) == [gym.trainer.id]


async def test_a_client_can_have_several_trainers(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    second = await signed_in(client, container, role=Role.trainer, gym_id=gym.id)
    for trainer in (gym.trainer, second):
        response = await client.put(
            f"/trainers/{trainer.id}/clients/{gym.client.id}", headers=gym.owner.headers
        )
        assert response.status_code == 201
    trainers = await client.get(f"/clients/{gym.client.id}/trainers", headers=gym.owner.headers)
    assert len(trainers.json()["items"]) == 2


async def test_a_trainer_links_only_themselves(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    other = await signed_in(client, container, role=Role.trainer, gym_id=gym.id)
    mine = await client.put(
        f"/trainers/{gym.trainer.id}/clients/{gym.client.id}", headers=gym.trainer.headers
    )
    assert mine.status_code == 201
    theirs = await client.put(
        f"/trainers/{other.id}/clients/{gym.client.id}", headers=gym.trainer.headers
    )
    assert theirs.status_code == 403
    by_client = await client.put(
        f"/trainers/{gym.trainer.id}/clients/{gym.client.id}", headers=gym.client.headers
    )
    assert by_client.status_code == 403


async def test_roles_must_fit(client: httpx.AsyncClient, gym: Gym) -> None:
    swapped = await client.put(
        f"/trainers/{gym.client.id}/clients/{gym.trainer.id}", headers=gym.owner.headers
    )
    assert swapped.status_code == 404


async def test_people_of_another_gym_cannot_be_linked(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    other = await gym_with_people(client, container, "Other")
    response = await client.put(
        f"/trainers/{gym.trainer.id}/clients/{other.client.id}", headers=gym.owner.headers
    )
    assert response.status_code == 404
    peek = await client.get(f"/clients/{other.client.id}/trainers", headers=gym.owner.headers)
    assert peek.status_code == 404


async def test_unlink(client: httpx.AsyncClient, gym: Gym) -> None:
    url = f"/trainers/{gym.trainer.id}/clients/{gym.client.id}"
    await client.put(url, headers=gym.owner.headers)
    assert (await client.delete(url, headers=gym.trainer.headers)).status_code == 204
    assert (await client.delete(url, headers=gym.trainer.headers)).status_code == 404


async def test_concurrent_links_store_one_row(
    client: httpx.AsyncClient, gym: Gym, admin_engine: AsyncEngine
) -> None:
    url = f"/trainers/{gym.trainer.id}/clients/{gym.client.id}"
    responses = await asyncio.gather(
        *(client.put(url, headers=gym.owner.headers) for _ in range(30))
    )
    assert sorted(r.status_code for r in responses) == [200] * 29 + [201]
    async with admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM training.trainer_clients")) == 1
