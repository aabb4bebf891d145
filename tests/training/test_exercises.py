"""Exercises through the HTTP API: detail, lookups, gym exercises, variants, access."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from fitsync.training.library import exercise_id
from tests.factories import signed_in
from tests.training.helpers import BENCH, Gym, gym_with_people


@pytest.fixture
async def gym(client: httpx.AsyncClient, container: Container) -> Gym:
    return await gym_with_people(client, container)


def _custom(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Landmine Press",
        "aliases": ["half kneeling landmine press"],
        "instructions": ["Hold the end of the bar", "Press up and forward"],
        "category": "strength",
        "level": "intermediate",
        "force": "push",
        "mechanic": "compound",
        "equipment": "barbell",
        "primary_muscles": ["shoulders"],
        "secondary_muscles": ["triceps", "chest"],
    }
    body.update(overrides)
    return body


async def test_library_is_loaded_with_source_ids(admin_engine: AsyncEngine) -> None:
    async with admin_engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM training.exercises WHERE source_id IS NOT NULL")
        )
        first = await conn.scalar(
            text("SELECT name FROM training.exercises WHERE source_id = '3_4_Sit-Up'")
        )
    assert count == 873
    assert first == "3/4 Sit-Up"


async def test_loading_the_library_again_changes_nothing(container: Container) -> None:
    from fitsync.kernel.db import transaction
    from fitsync.training import public as training

    async with transaction(container.sessionmaker, all_gyms=True) as session:
        assert await training.load_library(session) == 0


async def test_exercise_detail_has_muscles_equipment_and_instructions(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    response = await client.get(f"/exercises/{BENCH}", headers=gym.client.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Barbell Bench Press - Medium Grip"
    assert body["source_id"] == "Barbell_Bench_Press_-_Medium_Grip"
    assert body["primary_muscles"] == ["chest"]
    assert set(body["secondary_muscles"]) == {"shoulders", "triceps"}
    assert body["equipment"] == "barbell"
    assert body["instructions"]
    assert body["images"] == [
        "Barbell_Bench_Press_-_Medium_Grip/0.jpg",
        "Barbell_Bench_Press_-_Medium_Grip/1.jpg",
    ]
    assert body["gym_id"] is None


async def test_muscles_and_equipment_are_listed(client: httpx.AsyncClient, gym: Gym) -> None:
    muscles = (await client.get("/muscles", headers=gym.client.headers)).json()
    equipment = (await client.get("/equipment", headers=gym.client.headers)).json()
    assert len(muscles) == 17
    assert {"slug": "lower-back", "name": "Lower Back", "region": "back"} in muscles
    assert {"slug": "e-z-curl-bar", "name": "E-Z Curl Bar"} in equipment
    filtered = await client.get(
        "/exercises", params={"muscle": "lower back", "limit": 100}, headers=gym.client.headers
    )
    assert all(
        "lower-back" in i["primary_muscles"] + i["secondary_muscles"]
        for i in filtered.json()["items"]
    )


async def test_trainer_creates_a_gym_exercise_and_a_variant(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    created = await client.post("/exercises", json=_custom(), headers=gym.trainer.headers)
    assert created.status_code == 201, created.text
    assert created.json()["gym_id"] == str(gym.id)
    variant = await client.post(
        "/exercises",
        json=_custom(name="Incline Bench Press - Spoto", base_id=str(BENCH)),
        headers=gym.trainer.headers,
    )
    assert variant.status_code == 201, variant.text
    assert variant.json()["base"] == {"id": str(BENCH), "name": "Barbell Bench Press - Medium Grip"}
    base = (await client.get(f"/exercises/{BENCH}", headers=gym.client.headers)).json()
    assert {"id": variant.json()["id"], "name": "Incline Bench Press - Spoto"} in base["variants"]


async def test_gym_exercises_are_invisible_to_other_gyms(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    other = await gym_with_people(client, container, "Other")
    created = (await client.post("/exercises", json=_custom(), headers=gym.trainer.headers)).json()
    for account in (other.client, other.trainer, other.owner):
        response = await client.get(f"/exercises/{created['id']}", headers=account.headers)
        assert response.status_code == 404
        patch = await client.patch(
            f"/exercises/{created['id']}", json={"name": "x"}, headers=account.headers
        )
        assert patch.status_code in (403, 404)
        assert patch.status_code != 200
    # nor can another gym hang a variant on it
    variant = await client.post(
        "/exercises",
        json=_custom(name="Sneaky", base_id=created["id"]),
        headers=other.trainer.headers,
    )
    assert variant.status_code == 422


@pytest.mark.parametrize("role", [Role.client])
async def test_clients_cannot_write_exercises(
    client: httpx.AsyncClient, gym: Gym, role: Role
) -> None:
    response = await client.post("/exercises", json=_custom(), headers=gym.client.headers)
    assert response.status_code == 403


async def test_the_library_is_read_only_for_gyms(client: httpx.AsyncClient, gym: Gym) -> None:
    for account in (gym.trainer, gym.owner):
        patch = await client.patch(
            f"/exercises/{BENCH}", json={"name": "Mine now"}, headers=account.headers
        )
        assert patch.status_code == 403
        delete = await client.delete(f"/exercises/{BENCH}", headers=account.headers)
        assert delete.status_code == 403


async def test_admin_edits_the_library(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    admin = await signed_in(client, container, role=Role.admin)
    response = await client.patch(
        f"/exercises/{BENCH}", json={"aliases": ["bench", "flat bench"]}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    found = await client.get("/exercises", params={"q": "flat bench"}, headers=gym.client.headers)
    assert found.json()["items"][0]["id"] == str(BENCH)


async def test_deleted_exercise_leaves_lists_but_stays_readable(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    created = (await client.post("/exercises", json=_custom(), headers=gym.trainer.headers)).json()
    assert (
        await client.delete(f"/exercises/{created['id']}", headers=gym.owner.headers)
    ).status_code == 204
    detail = await client.get(f"/exercises/{created['id']}", headers=gym.client.headers)
    assert detail.status_code == 200
    assert detail.json()["deleted_at"] is not None
    search = await client.get(
        "/exercises", params={"q": "landmine press"}, headers=gym.client.headers
    )
    assert created["id"] not in [i["id"] for i in search.json()["items"]]
    # a new one may take the freed name
    again = await client.post("/exercises", json=_custom(), headers=gym.trainer.headers)
    assert again.status_code == 201


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"primary_muscles": ["spleen"]}, ["body", "primary_muscles", 0]),
        ({"equipment": "hovercraft"}, ["body", "equipment"]),
        ({"level": "godlike"}, ["body", "level"]),
        ({"primary_muscles": []}, ["body", "primary_muscles"]),
        ({"name": ""}, ["body", "name"]),
        ({"base_id": "00000000-0000-0000-0000-000000000001"}, ["body", "base_id"]),
    ],
)
async def test_bad_exercises_are_refused(
    client: httpx.AsyncClient, gym: Gym, change: dict[str, object], loc: list[object]
) -> None:
    response = await client.post("/exercises", json=_custom(**change), headers=gym.trainer.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc


async def test_concurrent_creates_of_one_name_store_one(
    client: httpx.AsyncClient, gym: Gym, admin_engine: AsyncEngine
) -> None:
    responses = await asyncio.gather(
        *(client.post("/exercises", json=_custom(), headers=gym.trainer.headers) for _ in range(20))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 19
    async with admin_engine.connect() as conn:
        stored = await conn.scalar(
            text("SELECT count(*) FROM training.exercises WHERE gym_id = :g"), {"g": gym.id}
        )
    assert stored == 1


async def test_unknown_exercise_is_404(client: httpx.AsyncClient, gym: Gym) -> None:
    missing = exercise_id("No_Such_Exercise")
    assert (
        await client.get(f"/exercises/{missing}", headers=gym.client.headers)
    ).status_code == 404
    assert (
        await client.get("/exercises/not-a-uuid", headers=gym.client.headers)
    ).status_code == 422
    assert (await client.get("/exercises")).status_code == 401
