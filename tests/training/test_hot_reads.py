"""The hot reads (search, the client's plan): one statement each, bodies as the schemas say.

Both answer with JSON rendered by PostgreSQL, so these tests hold the rendering to the
pydantic schemas the API documents, and count the statements a request runs. Both run
in autocommit and state their own tenant, so a test checks that it does not outlive the
statement on the pooled connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from fitsync.training.schemas import ExerciseSummary, PlannedExercise, PlannedWorkout, PlanOut
from tests.factories import signed_in
from tests.training.helpers import (
    Gym,
    create_program,
    create_workout,
    gym_with_people,
    link,
    workout_body,
)

PLAN_FIELDS = [f.serialization_alias or name for name, f in PlanOut.model_fields.items()]


@pytest.fixture
async def gym(client: httpx.AsyncClient, container: Container) -> Gym:
    gym = await gym_with_people(client, container)
    await link(client, gym.owner, gym.trainer, gym.client)
    return gym


@contextmanager
def statements(container: Container) -> Iterator[list[str]]:
    """The SQL statements the application runs inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    engine = container.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _assign(client: httpx.AsyncClient, gym: Gym, program_id: str) -> None:
    response = await client.post(
        f"/programs/{program_id}/assign",
        json={"client_id": str(gym.client.id), "start_date": "2026-12-07"},
        headers=gym.trainer.headers,
    )
    assert response.status_code == 201, response.text


async def _plan(client: httpx.AsyncClient, who: Any, to: str = "2026-12-20") -> dict[str, Any]:
    response = await client.get(
        "/me/plan", params={"from": "2026-12-07", "to": to}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


async def test_search_is_one_statement_with_the_summary_fields(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    with statements(container) as seen:
        response = await client.get(
            "/exercises", params={"q": "dumbell curl", "limit": 5}, headers=gym.client.headers
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert len(seen) == 1, seen  # no BEGIN, tenant statement or COMMIT either
    assert "training.search_page" in seen[0]
    body = response.json()
    assert list(body) == ["items", "next_cursor"]
    assert len(body["items"]) == 5
    assert body["next_cursor"]
    for item in body["items"]:
        assert list(item) == list(ExerciseSummary.model_fields)
        ExerciseSummary.model_validate(item)


async def test_browsing_is_one_query_in_the_unit_of_work(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    with statements(container) as seen:
        response = await client.get(
            "/exercises", params={"muscle": "biceps", "limit": 3}, headers=gym.client.headers
        )
    assert len(seen) == 2, seen  # the tenant's set_config, the page
    items = response.json()["items"]
    assert len(items) == 3
    assert [i["name"] for i in items] == sorted(i["name"] for i in items)


async def test_plan_is_one_statement_with_the_schema_fields(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    push = await create_workout(client, gym.trainer, name="Push")
    legs = await create_workout(client, gym.trainer, name="Legs")
    program = await create_program(client, gym.trainer, [push["id"], legs["id"]], weeks=12)
    await _assign(client, gym, program["id"])
    with statements(container) as seen:
        plan = await _plan(client, gym.client, to="2027-02-28")
    assert len(seen) == 1, seen
    assert "training.plan_items" in seen[0]
    assert list(plan) == PLAN_FIELDS
    assert plan["client_id"] == str(gym.client.id)
    assert len(plan["items"]) == 24
    for item in plan["items"]:
        assert list(item) == list(PlannedWorkout.model_fields)
        for exercise in item["exercises"]:
            assert list(exercise) == list(PlannedExercise.model_fields)
        PlannedWorkout.model_validate(item)
    assert plan["items"][0]["program_name"] == program["name"]
    # week 12 of +2.5 kg a week on 80 kg
    assert plan["items"][-1]["exercises"][0]["planned_load"] == 107.5


async def test_plan_shows_a_renamed_workout_with_its_pinned_exercises(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    workout = await create_workout(client, gym.trainer, name="Push")
    program = await create_program(client, gym.trainer, [workout["id"]], weeks=2)
    await _assign(client, gym, program["id"])
    edited = workout_body(name="Push (heavy)")
    edited["exercises"][0]["load"] = 90
    response = await client.put(
        f"/workouts/{workout['id']}", json=edited, headers=gym.trainer.headers
    )
    assert response.status_code == 200, response.text
    items = (await _plan(client, gym.client))["items"]
    assert [(i["workout_name"], i["workout_version"]) for i in items] == [("Push (heavy)", 1)] * 2
    assert items[0]["exercises"][0]["load"] == 80


async def test_a_client_sees_only_their_own_plan(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    workout = await create_workout(client, gym.trainer)
    program = await create_program(client, gym.trainer, [workout["id"]], weeks=2)
    await _assign(client, gym, program["id"])
    neighbour = await signed_in(client, container, role=Role.client, gym_id=gym.id)
    other_gym = await gym_with_people(client, container, "Other")
    assert len((await _plan(client, gym.client))["items"]) == 2
    assert (await _plan(client, neighbour))["items"] == []
    assert (await _plan(client, other_gym.client))["items"] == []


async def test_the_tenant_of_a_hot_read_ends_with_its_statement(
    container: Container, gym: Gym
) -> None:
    async with container.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        found = await conn.scalar(
            text(
                "SELECT total FROM training.search_page(:gym, false, ARRAY['curl'], 'curl',"
                " 'curl', NULL, NULL, NULL, NULL, 5, 0)"
            ),
            {"gym": gym.id},
        )
        assert found == 6
        left = await conn.scalar(text("SELECT coalesce(current_setting('app.gym_id', true), '')"))
        assert left == ""
        # and without a tenant, RLS shows no gym's rows
        assert await conn.scalar(text("SELECT count(*) FROM training.planned_sessions")) == 0


async def test_hot_reads_keep_to_the_callers_gym(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    other = await gym_with_people(client, container, "Other")
    created = await client.post(
        "/exercises",
        json={"name": "Zercher Carry Walk", "primary_muscles": ["quadriceps"]},
        headers=other.trainer.headers,
    )
    assert created.status_code == 201, created.text
    for who, expected in ((gym.client, []), (other.client, ["Zercher Carry Walk"])):
        response = await client.get(
            "/exercises", params={"q": "zercher carry"}, headers=who.headers
        )
        assert [i["name"] for i in response.json()["items"]] == expected
