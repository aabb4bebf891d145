"""Programs, assignments (program.assigned through the outbox), and the client's plan."""

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
from tests.training.helpers import Gym, create_program, create_workout, gym_with_people, link


@pytest.fixture
async def gym(client: httpx.AsyncClient, container: Container) -> Gym:
    gym = await gym_with_people(client, container)
    await link(client, gym.owner, gym.trainer, gym.client)
    return gym


async def _assign(
    client: httpx.AsyncClient, gym: Gym, program_id: str, start: str = "2026-12-07", by=None
) -> httpx.Response:
    return await client.post(
        f"/programs/{program_id}/assign",
        json={"client_id": str(gym.client.id), "start_date": start},
        headers=(by or gym.trainer).headers,
    )


async def test_program_lists_its_schedule(client: httpx.AsyncClient, gym: Gym) -> None:
    push = await create_workout(client, gym.trainer, name="Push")
    pull = await create_workout(client, gym.trainer, name="Pull")
    program = await create_program(client, gym.trainer, [push["id"], pull["id"]], weeks=12)
    assert program["duration_weeks"] == 12
    assert len(program["schedule"]) == 24
    assert program["schedule"][:2] == [
        {
            "week": 1,
            "day": 1,
            "workout_id": push["id"],
            "workout_name": "Push",
            "workout_version": None,
        },
        {
            "week": 1,
            "day": 3,
            "workout_id": pull["id"],
            "workout_name": "Pull",
            "workout_version": None,
        },
    ]
    listed = await client.get("/programs", headers=gym.owner.headers)
    assert [p["id"] for p in listed.json()["items"]] == [program["id"]]


async def test_schedule_must_fit_and_name_known_workouts(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    workout = await create_workout(client, gym.trainer)
    late = await client.post(
        "/programs",
        json={
            "name": "P",
            "duration_weeks": 2,
            "schedule": [{"week": 3, "day": 1, "workout_id": workout["id"]}],
        },
        headers=gym.trainer.headers,
    )
    assert late.status_code == 422
    unknown = await client.post(
        "/programs",
        json={
            "name": "P",
            "duration_weeks": 2,
            "schedule": [
                {"week": 1, "day": 1, "workout_id": workout["id"]},
                {"week": 1, "day": 2, "workout_id": str(uuid.uuid4())},
            ],
        },
        headers=gym.trainer.headers,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["body", "schedule", 1, "workout_id"]


async def test_assigning_emits_program_assigned(
    client: httpx.AsyncClient, gym: Gym, admin_engine: AsyncEngine
) -> None:
    workout = await create_workout(client, gym.trainer)
    program = await create_program(client, gym.trainer, [workout["id"]], weeks=4)
    response = await _assign(client, gym, program["id"])
    assert response.status_code == 201, response.text
    assignment = response.json()
    assert assignment["start_date"] == "2026-12-07"
    assert assignment["end_date"] == "2027-01-03"
    assert assignment["status"] == "active"
    async with admin_engine.connect() as conn:
        events = (
            await conn.execute(
                text(
                    "SELECT type, gym_id, actor_id, data FROM kernel.outbox"
                    " WHERE type = 'program.assigned'"
                )
            )
        ).all()
    assert len(events) == 1
    event = events[0]
    assert event.gym_id == gym.id
    assert event.actor_id == gym.trainer.id
    assert event.data["assignment_id"] == assignment["id"]
    assert event.data["client_id"] == str(gym.client.id)
    assert event.data["program_id"] == program["id"]
    assert event.data["sessions"] == 4


async def test_trainers_assign_only_to_their_own_clients(
    client: httpx.AsyncClient, container: Container, gym: Gym, admin_engine: AsyncEngine
) -> None:
    stranger = await signed_in(client, container, role=Role.trainer, gym_id=gym.id)
    workout = await create_workout(client, stranger)
    program = await create_program(client, stranger, [workout["id"]])
    refused = await _assign(client, gym, program["id"], by=stranger)
    assert refused.status_code == 403
    by_owner = await _assign(client, gym, program["id"], by=gym.owner)
    assert by_owner.status_code == 201
    by_client = await _assign(client, gym, program["id"], start="2027-01-04", by=gym.client)
    assert by_client.status_code == 403
    async with admin_engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM kernel.outbox WHERE type = 'program.assigned'")
        )
    assert count == 1


async def test_cross_gym_ids_are_404(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    other = await gym_with_people(client, container, "Other")
    workout = await create_workout(client, gym.trainer)
    program = await create_program(client, gym.trainer, [workout["id"]])
    assert (
        await client.get(f"/programs/{program['id']}", headers=other.owner.headers)
    ).status_code == 404
    # their client with our program, our client with their owner
    response = await client.post(
        f"/programs/{program['id']}/assign",
        json={"client_id": str(other.client.id), "start_date": "2026-12-07"},
        headers=gym.owner.headers,
    )
    assert response.status_code == 404
    response = await client.post(
        f"/programs/{program['id']}/assign",
        json={"client_id": str(gym.client.id), "start_date": "2026-12-07"},
        headers=other.owner.headers,
    )
    assert response.status_code == 404


async def test_concurrent_duplicate_assignments_store_one(
    client: httpx.AsyncClient, gym: Gym, admin_engine: AsyncEngine
) -> None:
    workout = await create_workout(client, gym.trainer)
    program = await create_program(client, gym.trainer, [workout["id"]])
    responses = await asyncio.gather(*(_assign(client, gym, program["id"]) for _ in range(25)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 24
    async with admin_engine.connect() as conn:
        assignments = await conn.scalar(text("SELECT count(*) FROM training.program_assignments"))
        events = await conn.scalar(
            text("SELECT count(*) FROM kernel.outbox WHERE type = 'program.assigned'")
        )
    assert (assignments, events) == (1, 1)


async def test_my_plan_is_the_calendar_of_the_assignment(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    push = await create_workout(client, gym.trainer, name="Push")
    legs = await create_workout(client, gym.trainer, name="Legs")
    program = await create_program(client, gym.trainer, [push["id"], legs["id"]], weeks=12)
    await _assign(client, gym, program["id"], start="2026-12-07")  # a Monday
    response = await client.get(
        "/me/plan", params={"from": "2026-12-07", "to": "2026-12-20"}, headers=gym.client.headers
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["from"], plan["to"]) == ("2026-12-07", "2026-12-20")
    assert [(i["date"], i["workout_name"], i["week"]) for i in plan["items"]] == [
        ("2026-12-07", "Push", 1),
        ("2026-12-09", "Legs", 1),
        ("2026-12-14", "Push", 2),
        ("2026-12-16", "Legs", 2),
    ]
    # +2.5 kg a week on the bench press: week 2 plans 82.5 kg
    assert plan["items"][2]["exercises"][0]["planned_load"] == 82.5
    whole = await client.get(
        "/me/plan", params={"from": "2026-12-01", "to": "2027-06-01"}, headers=gym.client.headers
    )
    assert len(whole.json()["items"]) == 24
    assert whole.json()["items"][-1]["date"] == "2027-02-24"


async def test_cancelled_assignment_leaves_the_plan(client: httpx.AsyncClient, gym: Gym) -> None:
    workout = await create_workout(client, gym.trainer)
    program = await create_program(client, gym.trainer, [workout["id"]])
    assignment = (await _assign(client, gym, program["id"])).json()
    cancelled = await client.post(
        f"/programs/assignments/{assignment['id']}/cancel", headers=gym.trainer.headers
    )
    assert cancelled.json()["status"] == "cancelled"
    plan = await client.get(
        "/me/plan", params={"from": "2026-12-07", "to": "2026-12-31"}, headers=gym.client.headers
    )
    assert plan.json()["items"] == []


async def test_plan_range_is_checked(client: httpx.AsyncClient, gym: Gym) -> None:
    backwards = await client.get(
        "/me/plan", params={"from": "2026-12-07", "to": "2026-12-01"}, headers=gym.client.headers
    )
    assert backwards.status_code == 422
    too_long = await client.get(
        "/me/plan", params={"from": "2026-01-01", "to": "2028-01-01"}, headers=gym.client.headers
    )
    assert too_long.status_code == 422
    assert (await client.get("/me/plan", headers=gym.trainer.headers)).status_code == 403


async def test_assignments_are_listed_to_the_right_people(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    workout = await create_workout(client, gym.trainer)
    program = await create_program(client, gym.trainer, [workout["id"]])
    await _assign(client, gym, program["id"])
    other_client = await signed_in(client, container, role=Role.client, gym_id=gym.id)
    stranger = await signed_in(client, container, role=Role.trainer, gym_id=gym.id)
    url = "/programs/assignments"
    mine = await client.get(url, headers=gym.client.headers)
    assert [a["program_id"] for a in mine.json()["items"]] == [program["id"]]
    by_trainer = await client.get(
        url, params={"client_id": str(gym.client.id)}, headers=gym.trainer.headers
    )
    assert len(by_trainer.json()["items"]) == 1
    by_owner = await client.get(
        url, params={"client_id": str(gym.client.id)}, headers=gym.owner.headers
    )
    assert len(by_owner.json()["items"]) == 1
    peeking = await client.get(
        url, params={"client_id": str(gym.client.id)}, headers=other_client.headers
    )
    assert peeking.status_code == 404
    assert (await client.get(url, headers=other_client.headers)).json()["items"] == []
    not_theirs = await client.get(
        url, params={"client_id": str(gym.client.id)}, headers=stranger.headers
    )
    assert not_theirs.status_code == 403


async def test_clients_rate_assigned_programs_once(
    client: httpx.AsyncClient, container: Container, gym: Gym, admin_engine: AsyncEngine
) -> None:
    workout = await create_workout(client, gym.trainer)
    program = await create_program(client, gym.trainer, [workout["id"]])
    url = f"/programs/{program['id']}/rating"
    assert (await client.put(url, json={"stars": 4}, headers=gym.client.headers)).status_code == 404
    await _assign(client, gym, program["id"])
    responses = await asyncio.gather(
        *(client.put(url, json={"stars": 1 + i % 5}, headers=gym.client.headers) for i in range(10))
    )
    assert all(r.status_code == 200 for r in responses)
    final = await client.put(url, json={"stars": 5, "comment": "Great"}, headers=gym.client.headers)
    assert final.json()["stars"] == 5
    bad = await client.put(url, json={"stars": 6}, headers=gym.client.headers)
    assert bad.status_code == 422
    assert (
        await client.put(url, json={"stars": 3}, headers=gym.trainer.headers)
    ).status_code == 403
    detail = await client.get(f"/programs/{program['id']}", headers=gym.owner.headers)
    assert (detail.json()["rating_avg"], detail.json()["rating_count"]) == (5.0, 1)
    async with admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM training.ratings")) == 1


async def test_favourites(client: httpx.AsyncClient, container: Container, gym: Gym) -> None:
    from tests.training.helpers import BENCH

    url = f"/favourites/exercise/{BENCH}"
    assert (await client.put(url, headers=gym.client.headers)).status_code == 204
    assert (await client.put(url, headers=gym.client.headers)).status_code == 204
    workout = await create_workout(client, gym.trainer)
    assert (
        await client.put(f"/favourites/workout/{workout['id']}", headers=gym.trainer.headers)
    ).status_code == 204
    # a client cannot favourite a workout they cannot see
    assert (
        await client.put(f"/favourites/workout/{workout['id']}", headers=gym.client.headers)
    ).status_code == 404
    listed = await client.get("/favourites", headers=gym.client.headers)
    assert [(f["target_type"], f["name"]) for f in listed.json()["items"]] == [
        ("exercise", "Barbell Bench Press - Medium Grip")
    ]
    assert (await client.delete(url, headers=gym.client.headers)).status_code == 204
    assert (await client.delete(url, headers=gym.client.headers)).status_code == 404
