"""Strong and Hevy history imports: mapped names, a report of the rest, nothing twice."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from fitsync.training.public import library_exercise_id
from tests.factories import coach, make_gym, signed_in
from tests.progress.factories import DATA, upload

IMPORT = "/progress/workout-logs/import"


async def _import(client: httpx.AsyncClient, who: object, name: str, **form: str) -> httpx.Response:
    return await client.post(
        IMPORT,
        files={"file": (name, (DATA / "workout_logs" / name).read_bytes(), "text/csv")},
        data=form,
        headers=who.headers,  # type: ignore[attr-defined]
    )


async def _sets(admin_engine: AsyncEngine) -> tuple[int, int]:
    async with admin_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM progress.workout_logs),"
                    " (SELECT count(*) FROM progress.workout_sets)"
                )
            )
        ).one()
    return row[0], row[1]


@pytest.mark.parametrize(
    ("name", "fmt", "rows"),
    [
        ("strong_export_kg.csv", "strong", 264),
        ("strong_export_lbs.csv", "strong", 264),
        ("strong_export_legacy.csv", "strong_legacy", 264),
        ("hevy_export_kg.csv", "hevy", 168),
        ("hevy_export_lbs.csv", "hevy", 168),
    ],
)
async def test_export_imports_once(
    client: httpx.AsyncClient,
    container: Container,
    admin_engine: AsyncEngine,
    name: str,
    fmt: str,
    rows: int,
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    first = await _import(client, me, name)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["format"] == fmt
    assert report["sets_imported"] == rows
    assert report["workouts_imported"] > 10
    assert report["workouts_skipped"] == 0
    assert "Bench Press (Barbell)" in report["matched"]
    counts = await _sets(admin_engine)
    again = (await _import(client, me, name)).json()
    assert again["workouts_imported"] == 0
    assert again["workouts_skipped"] == report["workouts_imported"]
    assert await _sets(admin_engine) == counts == (report["workouts_imported"], rows)


async def test_names_map_to_the_library_and_unmatched_ones_are_reported_and_kept(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    csv = (DATA / "workout_logs" / "strong_export_kg.csv").read_text()
    mixed = csv.replace("Running (Treadmill)", "Underwater Basket Weaving", 2)
    response = await client.post(
        IMPORT,
        files={"file": ("mixed.csv", mixed.encode(), "text/csv")},
        headers=me.headers,
    )
    report = response.json()
    assert report["unmatched"] == ["Underwater Basket Weaving"]
    logs = (await client.get("/progress/workout-logs?limit=100", headers=me.headers)).json()
    entries = [e for w in logs["items"] for e in w["entries"]]
    weaving = [e for e in entries if e["exercise_name"] == "Underwater Basket Weaving"]
    assert weaving
    assert weaving[0]["exercise_id"] is None
    assert weaving[0]["sets"][0]["distance_m"] > 1000
    # "Running (Treadmill)" of the Strong app is the library's "Running, Treadmill".
    runs = [e for e in entries if e["exercise_id"] == str(library_exercise_id("Running_Treadmill"))]
    assert runs


async def test_pounds_export_lands_in_kilograms(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    await _import(client, me, "strong_export_lbs.csv")
    records = (await client.get("/progress/records", headers=me.headers)).json()["items"]
    bench = next(r for r in records if r["exercise_name"] == "Barbell Bench Press - Medium Grip")
    assert 50 < bench["best"]["load_kg"] < 120  # 130 lb is about 59 kg


async def test_concurrent_imports_of_the_same_file_import_once(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    reports = await asyncio.gather(*(_import(client, me, "hevy_export_kg.csv") for _ in range(3)))
    assert all(r.status_code == 200 for r in reports)
    imported = [r.json()["workouts_imported"] for r in reports]
    logs, sets = await _sets(admin_engine)
    assert sum(imported) == logs
    assert sets == 168
    codes = (await client.get("/progress/achievements", headers=me.headers)).json()["items"]
    assert len({a["code"] for a in codes}) == len(codes)


async def test_trainer_imports_for_a_client(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym)
    await coach(client, trainer, me)
    response = await _import(client, trainer, "hevy_export_kg.csv", client_id=str(me.id))
    assert response.status_code == 200
    mine = (await client.get("/progress/workout-logs", headers=me.headers)).json()
    assert mine["items"]


async def test_unknown_csv_is_400(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    response = await upload(client, me, b"a,b,c\n1,2,3\n", "x.csv", path=IMPORT)
    assert response.status_code == 400
    assert "Strong or Hevy" in response.json()["detail"]
