"""Workouts: validation, versions, templates, visibility."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from tests.factories import signed_in
from tests.training.helpers import (
    BENCH,
    CURL,
    SQUAT,
    Gym,
    create_program,
    create_workout,
    gym_with_people,
    link,
    workout_body,
)


@pytest.fixture
async def gym(client: httpx.AsyncClient, container: Container) -> Gym:
    return await gym_with_people(client, container)


async def _count(admin_engine: AsyncEngine, table: str) -> int:
    async with admin_engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM training.{table}")) or 0)


async def test_trainer_creates_a_workout_with_coach_formats(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    body = workout_body(
        groups=[
            {"label": "A", "format": "superset", "rounds": 3},
            {"label": "B", "format": "emom", "duration_minutes": 12},
        ],
        exercises=[
            {"exercise_id": str(BENCH), "order": 1, "sets": 4, "reps": 8, "group": "A", "rpe": 8},
            {"exercise_id": str(CURL), "order": 2, "sets": 4, "reps": 12, "group": "A", "rir": 2},
            {
                "exercise_id": str(SQUAT),
                "order": 3,
                "sets": 12,
                "reps": 3,
                "group": "B",
                "percent_1rm": 75,
                "rest_seconds": 0,
            },
            {"exercise_id": str(CURL), "order": 4, "sets": 1, "set_type": "amrap", "load": 12.5},
            {"exercise_id": str(BENCH), "order": 5, "sets": 3, "reps": 10, "set_type": "drop"},
            {
                "exercise_id": str(SQUAT),
                "day": 2,
                "order": 1,
                "sets": 1,
                "duration_seconds": 240,
                "notes": "Tabata air squats",
            },
        ],
    )
    response = await client.post("/workouts", json=body, headers=gym.trainer.headers)
    assert response.status_code == 201, response.text
    workout = response.json()
    assert workout["version"] == 1
    assert [g["format"] for g in workout["groups"]] == ["superset", "emom"]
    assert [e["exercise_name"] for e in workout["exercises"]][:2] == [
        "Barbell Bench Press - Medium Grip",
        "Dumbbell Bicep Curl",
    ]
    assert workout["exercises"][-1]["day"] == 2


async def test_unknown_exercise_is_422_naming_the_index(
    client: httpx.AsyncClient, gym: Gym, admin_engine: AsyncEngine
) -> None:
    body = workout_body()
    body["exercises"].append({"exercise_id": str(uuid.uuid4()), "order": 3, "sets": 3, "reps": 5})
    response = await client.post("/workouts", json=body, headers=gym.trainer.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "exercises", 2, "exercise_id"]
    assert "exercises[2]" in response.json()["detail"]
    assert await _count(admin_engine, "workouts") == 0


async def test_another_gyms_exercise_is_unknown(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    other = await gym_with_people(client, container, "Other")
    theirs = await client.post(
        "/exercises",
        json={"name": "Secret Move", "primary_muscles": ["chest"]},
        headers=other.trainer.headers,
    )
    body = workout_body()
    body["exercises"][0]["exercise_id"] = theirs.json()["id"]
    response = await client.post("/workouts", json=body, headers=gym.trainer.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "exercises", 0, "exercise_id"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"reps": 1001}, "reps"),
        ({"reps": 0}, "reps"),
        ({"rest_seconds": -1}, "rest_seconds"),
        ({"sets": 0}, "sets"),
        ({"sets": 101}, "sets"),
        ({"load": -5}, "load"),
        ({"rpe": 11}, "rpe"),
        ({"tempo": "slow"}, "tempo"),
        ({"day": 8}, "day"),
    ],
)
async def test_out_of_range_prescriptions_are_422(
    client: httpx.AsyncClient, gym: Gym, change: dict[str, object], where: str
) -> None:
    body = workout_body()
    body["exercises"][0].update(change)
    response = await client.post("/workouts", json=body, headers=gym.trainer.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][:4] == ["body", "exercises", 0, where]


async def test_inconsistent_plans_are_422(client: httpx.AsyncClient, gym: Gym) -> None:
    body = workout_body()
    body["exercises"][1]["order"] = 1  # two exercises at the same place
    assert (
        await client.post("/workouts", json=body, headers=gym.trainer.headers)
    ).status_code == 422
    body = workout_body()
    body["exercises"][0]["group"] = "Z"  # a group that is not declared
    assert (
        await client.post("/workouts", json=body, headers=gym.trainer.headers)
    ).status_code == 422
    body = workout_body()
    del body["exercises"][0]["reps"]  # no dose at all
    assert (
        await client.post("/workouts", json=body, headers=gym.trainer.headers)
    ).status_code == 422


async def test_a_plan_of_10000_items_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, gym: Gym, admin_engine: AsyncEngine
) -> None:
    items = [
        {"exercise_id": str(BENCH), "day": 1 + i % 7, "order": 1 + i // 7, "sets": 3, "reps": 5}
        for i in range(10_000)
    ]
    response = await client.post(
        "/workouts", json=workout_body(exercises=items), headers=gym.trainer.headers
    )
    assert response.status_code in (413, 422)
    assert await _count(admin_engine, "workouts") == 0
    assert await _count(admin_engine, "workout_versions") == 0


async def test_clients_cannot_create_workouts(client: httpx.AsyncClient, gym: Gym) -> None:
    response = await client.post("/workouts", json=workout_body(), headers=gym.client.headers)
    assert response.status_code == 403


async def test_editing_makes_a_new_version_and_keeps_the_old(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    workout = await create_workout(client, gym.trainer)
    changed = workout_body(name="Push day v2")
    changed["exercises"][0]["reps"] = 3
    response = await client.put(
        f"/workouts/{workout['id']}", json=changed, headers=gym.trainer.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    old = await client.get(
        f"/workouts/{workout['id']}", params={"version": 1}, headers=gym.trainer.headers
    )
    assert old.json()["exercises"][0]["reps"] == 5
    assert old.json()["version"] == 1


async def test_stale_expected_version_is_409(client: httpx.AsyncClient, gym: Gym) -> None:
    workout = await create_workout(client, gym.trainer)
    url = f"/workouts/{workout['id']}"
    ok = await client.put(url, json=workout_body(expected_version=1), headers=gym.trainer.headers)
    assert ok.status_code == 200
    stale = await client.put(
        url, json=workout_body(expected_version=1), headers=gym.trainer.headers
    )
    assert stale.status_code == 409


async def test_concurrent_edits_get_distinct_versions(
    client: httpx.AsyncClient, gym: Gym, admin_engine: AsyncEngine
) -> None:
    workout = await create_workout(client, gym.trainer)
    responses = await asyncio.gather(
        *(
            client.put(
                f"/workouts/{workout['id']}",
                json=workout_body(name=f"Edit {i}"),
                headers=gym.trainer.headers,
            )
            for i in range(20)
        )
    )
    assert all(r.status_code == 200 for r in responses)
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 22))
    async with admin_engine.connect() as conn:
        versions = await conn.scalar(
            text("SELECT count(*) FROM training.workout_versions WHERE workout_id = :w"),
            {"w": workout["id"]},
        )
        current = await conn.scalar(
            text("SELECT version FROM training.workouts WHERE id = :w"), {"w": workout["id"]}
        )
    assert versions == 21
    assert current == 21


async def test_assigned_client_keeps_the_version_given_unless_assignees_are_updated(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    await link(client, gym.owner, gym.trainer, gym.client)
    workout = await create_workout(client, gym.trainer)
    program = await create_program(client, gym.trainer, [workout["id"]], weeks=1)
    assigned = await client.post(
        f"/programs/{program['id']}/assign",
        json={"client_id": str(gym.client.id), "start_date": "2026-12-07"},
        headers=gym.trainer.headers,
    )
    assert assigned.status_code == 201
    heavier = workout_body()
    heavier["exercises"][0]["load"] = 100
    await client.put(f"/workouts/{workout['id']}", json=heavier, headers=gym.trainer.headers)
    seen = await client.get(f"/workouts/{workout['id']}", headers=gym.client.headers)
    assert seen.json()["version"] == 1
    assert seen.json()["exercises"][0]["load"] == 80
    plan = await client.get(
        "/me/plan", params={"from": "2026-12-07", "to": "2026-12-07"}, headers=gym.client.headers
    )
    assert plan.json()["items"][0]["exercises"][0]["load"] == 80
    moved = await client.put(
        f"/workouts/{workout['id']}",
        params={"update_assignees": "true"},
        json=heavier,
        headers=gym.trainer.headers,
    )
    assert moved.json()["updated_assignments"] == 1
    plan = await client.get(
        "/me/plan", params={"from": "2026-12-07", "to": "2026-12-07"}, headers=gym.client.headers
    )
    assert plan.json()["items"][0]["workout_version"] == 3
    assert plan.json()["items"][0]["exercises"][0]["load"] == 100


async def test_clients_see_only_workouts_assigned_to_them(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    workout = await create_workout(client, gym.trainer)
    response = await client.get(f"/workouts/{workout['id']}", headers=gym.client.headers)
    assert response.status_code == 404
    listing = await client.get("/workouts", headers=gym.client.headers)
    assert listing.json()["items"] == []


async def test_private_workouts_are_their_owners(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    colleague = await signed_in(client, container, role=Role.trainer, gym_id=gym.id)
    private = await create_workout(client, gym.trainer, visibility="private")
    shared = await create_workout(client, gym.trainer, name="Shared legs")
    assert (
        await client.get(f"/workouts/{private['id']}", headers=colleague.headers)
    ).status_code == 404
    assert (
        await client.get(f"/workouts/{private['id']}", headers=gym.owner.headers)
    ).status_code == 200
    listed = await client.get("/workouts", headers=colleague.headers)
    assert [w["id"] for w in listed.json()["items"]] == [shared["id"]]
    edit = await client.put(
        f"/workouts/{shared['id']}", json=workout_body(), headers=colleague.headers
    )
    assert edit.status_code == 403


async def test_templates_are_copied_into_private_workouts(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    colleague = await signed_in(client, container, role=Role.trainer, gym_id=gym.id)
    template = await create_workout(client, gym.trainer, name="5x5 template", is_template=True)
    templates = await client.get(
        "/workouts", params={"is_template": "true"}, headers=colleague.headers
    )
    assert [w["id"] for w in templates.json()["items"]] == [template["id"]]
    copy = await client.post(f"/workouts/{template['id']}/copy", headers=colleague.headers)
    assert copy.status_code == 201, copy.text
    body = copy.json()
    assert body["owner_id"] == str(colleague.id)
    assert body["copied_from"] == template["id"]
    assert body["is_template"] is False
    assert body["visibility"] == "private"
    assert len(body["exercises"]) == 2


async def test_workouts_are_searchable_by_name(client: httpx.AsyncClient, gym: Gym) -> None:
    await create_workout(client, gym.trainer, name="Upper body hypertrophy")
    await create_workout(client, gym.trainer, name="Lower body power", description="Jumps")
    found = await client.get("/workouts", params={"q": "hypertrophi"}, headers=gym.trainer.headers)
    assert [w["name"] for w in found.json()["items"]] == ["Upper body hypertrophy"]
    prefix = await client.get("/workouts", params={"q": "low"}, headers=gym.trainer.headers)
    assert [w["name"] for w in prefix.json()["items"]] == ["Lower body power"]


async def test_other_gyms_workouts_are_404(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    other = await gym_with_people(client, container, "Other")
    workout = await create_workout(client, gym.trainer)
    for account in (other.owner, other.trainer, other.client):
        response = await client.get(f"/workouts/{workout['id']}", headers=account.headers)
        assert response.status_code == 404
    put = await client.put(
        f"/workouts/{workout['id']}", json=workout_body(), headers=other.owner.headers
    )
    assert put.status_code == 404


async def test_deleted_workout_is_gone_from_lists(client: httpx.AsyncClient, gym: Gym) -> None:
    workout = await create_workout(client, gym.trainer)
    assert (
        await client.delete(f"/workouts/{workout['id']}", headers=gym.trainer.headers)
    ).status_code == 204
    assert (await client.get("/workouts", headers=gym.trainer.headers)).json()["items"] == []
    assert (
        await client.get(f"/workouts/{workout['id']}", headers=gym.trainer.headers)
    ).status_code == 404
