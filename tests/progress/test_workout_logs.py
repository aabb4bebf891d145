"""Workout logs, personal records and achievements: each earned exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from fitsync.training.public import library_exercise_id
from tests.factories import Account, coach, make_gym, signed_in

BENCH = str(library_exercise_id("Barbell_Bench_Press_-_Medium_Grip"))
SQUAT = str(library_exercise_id("Barbell_Squat"))
DAY0 = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)  # a Monday


def workout(
    at: datetime, load: float, *, reps: int = 5, exercise: str = BENCH, **extra: Any
) -> dict[str, Any]:
    return {
        "performed_at": at.isoformat(),
        "entries": [
            {
                "exercise_id": exercise,
                "sets": [
                    {"reps": 8, "load_kg": 40, "warmup": True},
                    {"reps": reps, "load_kg": load, "rpe": 8},
                    {"reps": reps, "load_kg": load - 5},
                ],
            }
        ],
        **extra,
    }


async def log(client: httpx.AsyncClient, who: Account, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/progress/workout-logs", json=body, headers=who.headers)


async def achievements(client: httpx.AsyncClient, who: Account) -> list[str]:
    response = await client.get("/progress/achievements", headers=who.headers)
    assert response.status_code == 200
    return [a["code"] for a in response.json()["items"]]


async def test_log_returns_entries_volume_and_first_workout(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    response = await log(client, me, workout(DAY0, 100))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"] == str(me.id)
    assert body["volume_kg"] == 5 * 100 + 5 * 95  # warm-up excluded
    sets = body["entries"][0]["sets"]
    assert sets[1]["e1rm_kg"] == pytest.approx(100 * (1 + 5 / 30), abs=0.01)  # Epley
    assert sets[0]["e1rm_kg"] is None
    assert await achievements(client, me) == ["first_workout"]
    async with admin_engine.connect() as conn:
        types = (
            await conn.execute(
                text("SELECT type FROM kernel.outbox WHERE type <> 'user.registered' ORDER BY seq")
            )
        ).scalars()
        assert list(types) == ["workout.logged", "achievement.earned"]


async def test_heavier_lift_is_a_record_and_an_achievement(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    first = (await log(client, me, workout(DAY0, 100))).json()
    assert [(r["reps"], r["load_kg"], r["previous_kg"]) for r in first["records"]] == [
        (5, 100, None)
    ]
    lighter = (await log(client, me, workout(DAY0 + timedelta(days=2), 97.5))).json()
    assert lighter["records"] == []
    heavier = (await log(client, me, workout(DAY0 + timedelta(days=4), 102.5))).json()
    assert [(r["load_kg"], r["previous_kg"]) for r in heavier["records"]] == [(102.5, 100)]
    assert "pr:id:" + BENCH + ":5x102.5" in await achievements(client, me)

    records = (await client.get("/progress/records", headers=me.headers)).json()["items"]
    assert len(records) == 1
    assert records[0]["best"]["load_kg"] == 102.5
    assert records[0]["formula"] == "epley"
    assert records[0]["e1rm_kg"] == pytest.approx(102.5 * (1 + 5 / 30), abs=0.01)
    assert records[0]["e1rm_brzycki_kg"] == pytest.approx(102.5 * 36 / 32, abs=0.01)
    history = await client.get(f"/analytics/clients/{me.id}/records", headers=me.headers)
    assert [h["load_kg"] for h in history.json()] == [100, 102.5]


async def test_concurrent_logs_earn_each_achievement_once(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    """Twelve workouts at once (out of order, rising loads): milestones and PRs once each."""
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    loads = [100 + 2.5 * i for i in range(12)]
    bodies = [workout(DAY0 + timedelta(days=3 * i), load) for i, load in enumerate(loads)]
    responses = await asyncio.gather(*(log(client, me, b) for b in reversed(bodies)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    codes = await achievements(client, me)
    assert len(codes) == len(set(codes))
    assert {"first_workout", "workouts_10"} <= set(codes)
    async with admin_engine.connect() as conn:
        earned = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM kernel.outbox WHERE type = 'achievement.earned'"
                    " AND data->>'client_id' = :me"
                ),
                {"me": str(me.id)},
            )
        ).scalar_one()
        stats = (
            await conn.execute(
                text("SELECT workouts FROM progress.athlete_stats WHERE user_id = :me"),
                {"me": me.id},
            )
        ).scalar_one()
        best = (
            await conn.execute(
                text("SELECT load_kg FROM progress.personal_records WHERE reps = 5"),
            )
        ).scalar_one()
    assert earned == len(codes)
    assert stats == 12
    assert best == max(loads)


async def test_four_weeks_in_a_row_is_earned_when_the_gap_is_filled(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    for week in (0, 1, 3):
        await log(client, me, workout(DAY0 + timedelta(weeks=week), 60, exercise=SQUAT))
    assert "streak_4_weeks" not in await achievements(client, me)
    await log(client, me, workout(DAY0 + timedelta(weeks=2, days=2), 60, exercise=SQUAT))
    assert "streak_4_weeks" in await achievements(client, me)
    await log(client, me, workout(DAY0 + timedelta(weeks=4), 60, exercise=SQUAT))
    assert (await achievements(client, me)).count("streak_4_weeks") == 1


async def test_trainer_logs_for_a_client_and_lists_them(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym)
    await coach(client, trainer, me)
    response = await log(client, trainer, workout(DAY0, 80, client_id=str(me.id)))
    assert response.status_code == 201
    assert response.json()["client_id"] == str(me.id)
    mine = (await client.get("/progress/workout-logs", headers=me.headers)).json()
    assert [w["id"] for w in mine["items"]] == [response.json()["id"]]
    assert mine["items"][0]["entries"][0]["sets"][1]["load_kg"] == 80


async def test_staff_must_name_the_client(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym)
    response = await log(client, trainer, workout(DAY0, 80))
    assert response.status_code == 422


@pytest.mark.parametrize("role", [Role.client, Role.gym_owner])
async def test_others_cannot_log_for_a_client(
    client: httpx.AsyncClient, container: Container, role: Role
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    other = await signed_in(client, container, role=role, gym_id=gym)
    response = await log(client, other, workout(DAY0, 80, client_id=str(me.id)))
    assert response.status_code == (404 if role is Role.client else 403)


async def test_trainer_of_another_gym_gets_404(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym, other = await make_gym(container), await make_gym(container, "Other")
    me = await signed_in(client, container, gym_id=gym)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=other)
    for path in ("/progress/workout-logs", "/progress/records", "/progress/body-metrics"):
        response = await client.get(path, params={"client_id": str(me.id)}, headers=trainer.headers)
        assert response.status_code == 404, path


async def test_cardio_sets_and_pounds(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    body = {
        "performed_at": DAY0.isoformat(),
        "entries": [
            {
                "exercise_name": "Running (Treadmill)",
                "sets": [{"distance_m": 5000, "duration_s": 1500}],
            },
            {"exercise_name": "Squat (Barbell)", "sets": [{"reps": 5, "load_lb": 225}]},
        ],
    }
    response = await log(client, me, body)
    assert response.status_code == 201, response.text
    entries = response.json()["entries"]
    assert entries[0]["exercise_id"] == str(library_exercise_id("Running_Treadmill"))
    assert entries[0]["sets"][0]["distance_m"] == 5000
    assert entries[1]["exercise_name"] == "Barbell Squat"  # matched in the library
    assert entries[1]["sets"][0]["load_kg"] == pytest.approx(102.058, abs=0.01)


@pytest.mark.parametrize(
    "entries",
    [
        [],
        [{"sets": [{"reps": 5}]}],
        [{"exercise_id": BENCH, "sets": [{"load_kg": 50}]}],
        [{"exercise_id": BENCH, "sets": [{"reps": 5, "load_kg": -1}]}],
        [{"exercise_id": BENCH, "sets": [{"reps": 5, "rpe": 11}]}],
    ],
)
async def test_invalid_logs_are_422(
    client: httpx.AsyncClient, container: Container, entries: list[Any]
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    response = await log(client, me, {"performed_at": DAY0.isoformat(), "entries": entries})
    assert response.status_code == 422
