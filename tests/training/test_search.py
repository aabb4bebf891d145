"""Exercise search over the real library: quality table, filters, tenancy, index use."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import transaction
from fitsync.training.service.exercises import explain_search
from tests.training.helpers import Gym, gym_with_people

# (query, an exercise a human expects among the first three results). Typos, glued words,
# plurals, gym-floor shorthand (synonyms), prefixes typed so far, accents and case.
QUALITY = [
    ("benchpress", "Barbell Bench Press - Medium Grip"),
    ("bench pres", "Barbell Bench Press - Medium Grip"),
    ("bench press", "Barbell Bench Press - Medium Grip"),
    ("squatt", "Barbell Squat"),
    ("squats", "Barbell Squat"),
    ("dumbell curl", "Dumbbell Bicep Curl"),
    ("dumbbell curls", "Dumbbell Bicep Curl"),
    ("pullup", "Pullups"),
    ("pull ups", "Pullups"),
    ("chinup", "Chin-Up"),
    ("pushup", "Pushups"),
    ("push-ups", "Pushups"),
    ("deadlift", "Barbell Deadlift"),
    ("deadlifts", "Barbell Deadlift"),
    ("deadlfit", "Barbell Deadlift"),
    ("romanian deadlift", "Romanian Deadlift"),
    ("rdl", "Romanian Deadlift"),
    ("ohp", "Standing Military Press"),
    ("military pres", "Standing Military Press"),
    ("db row", "One-Arm Dumbbell Row"),
    ("lat pulldown", "Wide-Grip Lat Pulldown"),
    ("latpulldown", "Wide-Grip Lat Pulldown"),
    ("skullcrusher", "EZ-Bar Skullcrusher"),
    ("skull crushers", "EZ-Bar Skullcrusher"),
    ("hip thrust", "Barbell Hip Thrust"),
    ("calf raises", "Standing Calf Raises"),
    ("leg pres", "Leg Press"),
    ("lunges", "Barbell Lunge"),
    ("tricep pushdown", "Triceps Pushdown"),
    ("hammer curls", "Hammer Curls"),
    ("front squat", "Front Barbell Squat"),
    ("goblet", "Goblet Squat"),
    ("kettlebell swing", "One-Arm Kettlebell Swings"),
    ("kb swings", "One-Arm Kettlebell Swings"),
    ("face pull", "Face Pull"),
    ("shrugs", "Barbell Shrug"),
    ("good mornings", "Good Morning"),
    ("clean and jerk", "Clean and Jerk"),
    ("sumo deadlift", "Sumo Deadlift"),
    ("plank", "Plank"),
    ("crunches", "Crunches"),
    ("arnold press", "Arnold Dumbbell Press"),
    ("incline bench press", "Barbell Incline Bench Press - Medium Grip"),
    ("BENCH PRESS", "Barbell Bench Press - Medium Grip"),
    ("squät", "Barbell Squat"),
    ("hamer curl", "Hammer Curls"),
    ("lateral raise", "Side Lateral Raise"),
    ("leg curl", "Lying Leg Curls"),
]

PREFIXES = [
    ("bic", "biceps"),
    ("tric", "triceps"),
    ("hamst", "hamstrings"),
    ("quadr", "quadriceps"),
]


@pytest.fixture
async def gym(client: httpx.AsyncClient, container: Container) -> Gym:
    return await gym_with_people(client, container)


async def _top(client: httpx.AsyncClient, gym: Gym, q: str, n: int = 3, **params: str) -> list[str]:
    response = await client.get(
        "/exercises", params={"q": q, "limit": n, **params}, headers=gym.client.headers
    )
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def test_search_quality_table(client: httpx.AsyncClient, gym: Gym) -> None:
    assert len(QUALITY) >= 30
    misses = []
    for query, expected in QUALITY:
        top = await _top(client, gym, query)
        if expected not in top:
            misses.append(f"{query!r}: expected {expected!r} in {top}")
    assert not misses, "\n".join(misses)


async def test_prefix_finds_exercises_of_the_muscle_as_you_type(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    for prefix, muscle in PREFIXES:
        response = await client.get(
            "/exercises", params={"q": prefix, "limit": 10}, headers=gym.client.headers
        )
        items = response.json()["items"]
        hits = [i for i in items if muscle in i["primary_muscles"] + i["secondary_muscles"]]
        assert len(hits) >= 5, (prefix, [i["name"] for i in items])


async def test_exact_name_ranks_first(client: httpx.AsyncClient, gym: Gym) -> None:
    assert (await _top(client, gym, "Barbell Squat"))[0] == "Barbell Squat"
    assert (await _top(client, gym, "plank"))[0] == "Plank"


async def test_facets_combine_with_the_query(client: httpx.AsyncClient, gym: Gym) -> None:
    response = await client.get(
        "/exercises",
        params={"q": "curl", "equipment": "dumbbell", "muscle": "biceps", "level": "beginner"},
        headers=gym.client.headers,
    )
    items = response.json()["items"]
    assert items
    for item in items:
        assert item["equipment"] == "dumbbell"
        assert "biceps" in item["primary_muscles"] + item["secondary_muscles"]
        assert item["level"] == "beginner"


async def test_facets_without_query_browse_by_name(client: httpx.AsyncClient, gym: Gym) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"category": "olympic weightlifting", "limit": 10}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/exercises", params=params, headers=gym.client.headers)).json()
        seen += [i["name"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 35  # the library's olympic weightlifting exercises
    assert seen == sorted(seen)


async def test_search_pages_do_not_repeat(client: httpx.AsyncClient, gym: Gym) -> None:
    first = (
        await client.get(
            "/exercises", params={"q": "press", "limit": 10}, headers=gym.client.headers
        )
    ).json()
    second = (
        await client.get(
            "/exercises",
            params={"q": "press", "limit": 10, "cursor": first["next_cursor"]},
            headers=gym.client.headers,
        )
    ).json()
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}


async def test_nonsense_finds_nothing_and_symbols_are_harmless(
    client: httpx.AsyncClient, gym: Gym
) -> None:
    assert await _top(client, gym, "xqzvwk") == []
    for q in ("!!!", "a & b | !c:*", "'); DROP TABLE x; --", "%_%"):
        response = await client.get("/exercises", params={"q": q}, headers=gym.client.headers)
        assert response.status_code == 200, (q, response.text)


async def test_gym_exercises_are_searchable_only_in_their_gym(
    client: httpx.AsyncClient, container: Container, gym: Gym
) -> None:
    other = await gym_with_people(client, container, "Other")
    response = await client.post(
        "/exercises",
        json={"name": "Zercher Carry Walk", "primary_muscles": ["quadriceps"], "aliases": ["zc"]},
        headers=gym.trainer.headers,
    )
    assert response.status_code == 201, response.text
    assert "Zercher Carry Walk" in await _top(client, gym, "zercher cary")
    assert "Zercher Carry Walk" not in await _top(client, other, "zercher cary")


@pytest.mark.parametrize("q", ["benchpress", "squatt", "bic", "dumbell curl"])
async def test_search_uses_its_indexes(
    container: Container, admin_engine: AsyncEngine, gym: Gym, q: str
) -> None:
    async with admin_engine.begin() as conn:
        await conn.execute(text("ANALYZE training.exercises"))
    principal = Principal(
        user_id=gym.client.id, role=Role.client, gym_id=gym.id, session_id=uuid.uuid4()
    )
    async with transaction(container.sessionmaker, gym_id=gym.id) as session:
        # The library alone (873 rows, a few pages) is cheapest to read sequentially;
        # forbid that to see which indexes serve the query. bench/training.py prints the
        # plan chosen freely over 10,000 more exercises.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = await explain_search(session, principal=principal, q=q)
    statement, rest = plan.split("-- the lexicon, for", 1)
    lexicon, candidates = rest.split("-- the candidates", 1)
    # The statement reads only the page's rows back, by primary key (under RLS).
    assert "exercises_pkey" in statement, plan
    # Typos are widened through the lexicon's trigram index, kept to the library and gym.
    assert "ix_search_words_trgm" in lexicon, plan
    # The candidates come from the full-text index, kept to the library and the gym.
    assert "Bitmap Index Scan on ix_exercises_search" in candidates, plan
    assert "tenantlibrary" in candidates, plan
    assert "Seq Scan" not in lexicon + candidates, plan
