"""Diet plans: energy estimates, the 5 % macro rule, meals, restrictions, assignment."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from tests.training.helpers import Gym, gym_with_people, link


@pytest.fixture
async def gym(client: httpx.AsyncClient, container: Container) -> Gym:
    gym = await gym_with_people(client, container)
    await link(client, gym.owner, gym.trainer, gym.client)
    return gym


PLAN = {
    "name": "Lean bulk",
    "calories": 2800,
    "macros": {"protein_g": 180, "carbs_g": 330, "fat_g": 84},  # 720 + 1320 + 756 = 2796
    "meals": [
        {
            "name": "Breakfast",
            "time": "07:30",
            "items": [
                {"food": "Oats", "quantity": 100, "unit": "g"},
                {"food": "Soy milk", "quantity": 300, "unit": "ml"},
            ],
        },
    ],
    "restrictions": ["vegan", "gluten-free"],
}


async def test_trainer_creates_a_diet_plan(client: httpx.AsyncClient, gym: Gym) -> None:
    response = await client.post("/diet-plans", json=PLAN, headers=gym.trainer.headers)
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["macros"] == {
        "protein_g": 180,
        "carbs_g": 330,
        "fat_g": 84,
        "calories_from_macros": 2796,
    }
    assert plan["restrictions"] == ["vegan", "gluten-free"]
    assert plan["meals"][0]["items"][1]["unit"] == "ml"
    fetched = await client.get(f"/diet-plans/{plan['id']}", headers=gym.owner.headers)
    assert fetched.json() == plan


async def test_macros_that_disagree_with_calories_are_refused(
    client: httpx.AsyncClient, gym: Gym, admin_engine: AsyncEngine
) -> None:
    body = {**PLAN, "calories": 2000}
    response = await client.post("/diet-plans", json=body, headers=gym.trainer.headers)
    assert response.status_code == 422
    assert "2796 kcal" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["body", "macros"]
    async with admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM training.diet_plans")) == 0


async def test_the_database_enforces_the_5_percent_rule_too(
    gym: Gym, admin_engine: AsyncEngine
) -> None:
    with pytest.raises(IntegrityError, match="ck_diet_plans_energy_agrees"):
        async with admin_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO training.diet_plans (id, gym_id, owner_id, name, calories,"
                    " protein_g, carbs_g, fat_g) VALUES (gen_random_uuid(), :g, :o, 'x', 2000,"
                    " 100, 100, 100)"
                ),
                {"g": gym.id, "o": gym.trainer.id},
            )


async def test_energy_estimate(client: httpx.AsyncClient, gym: Gym) -> None:
    body = {"sex": "male", "weight_kg": 80, "height_cm": 180, "age": 30, "activity": "moderate"}
    response = await client.post(
        "/diet-plans/energy-estimate", json=body, headers=gym.trainer.headers
    )
    assert response.status_code == 200
    estimate = response.json()
    assert estimate["method"] == "mifflin_st_jeor"
    assert estimate["bmr"] == 1780  # 800 + 1125 - 150 + 5
    assert estimate["tdee"] == 2759  # x 1.55
    lean = await client.post(
        "/diet-plans/energy-estimate",
        json={**body, "body_fat_pct": 15},
        headers=gym.trainer.headers,
    )
    assert lean.json()["method"] == "katch_mcardle"
    assert lean.json()["bmr"] == 1839  # 370 + 21.6 x 68


async def test_plan_from_an_estimate_the_trainer_may_override(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    energy = {
        "sex": "female",
        "weight_kg": 62,
        "height_cm": 168,
        "age": 34,
        "activity": "light",
        "goal": "lose",
    }
    estimated = await client.post(
        "/diet-plans", json={"name": "Cut", "energy": energy}, headers=gym.trainer.headers
    )
    assert estimated.status_code == 201, estimated.text
    plan = estimated.json()
    assert plan["energy"]["estimate"]["calories"] == plan["calories"]
    assert abs(plan["macros"]["calories_from_macros"] - plan["calories"]) <= 0.05 * plan["calories"]
    overridden = await client.post(
        "/diet-plans",
        json={"name": "Cut (coach)", "energy": energy, "calories": 1700},
        headers=gym.trainer.headers,
    )
    assert overridden.status_code == 422  # new calories need their own macros
    assert overridden.json()["errors"][0]["loc"] == ["body", "macros"]


async def test_assign_a_diet_plan(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    plan = (await client.post("/diet-plans", json=PLAN, headers=gym.trainer.headers)).json()
    body = {"client_id": str(gym.client.id), "start_date": "2026-12-07"}
    first = await client.post(
        f"/diet-plans/{plan['id']}/assign", json=body, headers=gym.trainer.headers
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        f"/diet-plans/{plan['id']}/assign", json=body, headers=gym.trainer.headers
    )
    assert again.status_code == 409
    mine = await client.get("/me/diet-plans", headers=gym.client.headers)
    assert [a["diet_plan_id"] for a in mine.json()] == [plan["id"]]
    assert (
        await client.get(f"/diet-plans/{plan['id']}", headers=gym.client.headers)
    ).status_code == 200
    other = await gym_with_people(client, container, "Other")
    assert (
        await client.get(f"/diet-plans/{plan['id']}", headers=other.owner.headers)
    ).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"calories": 100},
        {"restrictions": ["carnivore"]},
        {"macros": {"protein_g": -1, "carbs_g": 1, "fat_g": 1}},
    ],
)
async def test_bad_diet_plans_are_422(
    client: httpx.AsyncClient, gym: Gym, change: dict[str, object]
) -> None:
    response = await client.post(
        "/diet-plans", json={**PLAN, **change}, headers=gym.trainer.headers
    )
    assert response.status_code == 422
