"""Arrange training state through the HTTP API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from fitsync.training.library import exercise_id
from tests.factories import Account, make_gym, signed_in

BENCH = exercise_id("Barbell_Bench_Press_-_Medium_Grip")
SQUAT = exercise_id("Barbell_Squat")
DEADLIFT = exercise_id("Barbell_Deadlift")
CURL = exercise_id("Dumbbell_Bicep_Curl")


@dataclass(frozen=True)
class Gym:
    id: uuid.UUID
    owner: Account
    trainer: Account
    client: Account


async def gym_with_people(
    client: httpx.AsyncClient, container: Container, name: str = "Gym"
) -> Gym:
    gym_id = await make_gym(container, name)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym_id)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym_id)
    member = await signed_in(client, container, role=Role.client, gym_id=gym_id)
    return Gym(id=gym_id, owner=owner, trainer=trainer, client=member)


async def link(client: httpx.AsyncClient, by: Account, trainer: Account, member: Account) -> None:
    response = await client.put(f"/trainers/{trainer.id}/clients/{member.id}", headers=by.headers)
    assert response.status_code in (200, 201), response.text


def workout_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Push day",
        "description": "Chest, shoulders and triceps",
        "goal": "strength",
        "difficulty": "intermediate",
        "is_template": False,
        "exercises": [
            {
                "exercise_id": str(BENCH),
                "day": 1,
                "order": 1,
                "sets": 5,
                "reps": 5,
                "rest_seconds": 180,
                "load": 80,
                "progression": {"type": "load_per_week", "increment_kg": 2.5},
            },
            {
                "exercise_id": str(CURL),
                "day": 1,
                "order": 2,
                "sets": 3,
                "reps": 10,
                "reps_max": 12,
                "rest_seconds": 60,
                "tempo": "3-1-1-0",
            },
        ],
    }
    body.update(overrides)
    return body


async def create_workout(
    client: httpx.AsyncClient, by: Account, **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/workouts", json=workout_body(**overrides), headers=by.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def create_program(
    client: httpx.AsyncClient, by: Account, workout_ids: list[str], weeks: int = 4
) -> dict[str, Any]:
    schedule = [
        {"week": w, "day": d, "workout_id": wid}
        for w in range(1, weeks + 1)
        for d, wid in zip((1, 3, 5), workout_ids, strict=False)
    ]
    response = await client.post(
        "/programs",
        json={
            "name": "Strength block",
            "duration_weeks": weeks,
            "goal": "strength",
            "difficulty": "intermediate",
            "schedule": schedule,
        },
        headers=by.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
