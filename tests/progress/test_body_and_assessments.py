"""Body metrics with units and trends; fitness assessments; gym aggregates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from fitsync.bootstrap import Container
from fitsync.kernel import clock
from fitsync.kernel.auth import Role
from tests.factories import coach, make_gym, signed_in

NOW = clock.now()


@pytest.fixture
def frozen() -> Iterator[None]:
    """The clock stands still at NOW (close to real time: PyJWT checks expiry on its own)."""
    previous = clock.set_clock(clock.FrozenClock(NOW))
    yield
    clock.set_clock(previous)


async def test_pounds_and_inches_are_stored_in_si_and_shown_per_preference(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    response = await client.post(
        "/progress/body-metrics",
        json={
            "measured_at": "2026-05-01T07:00:00+02:00",
            "weight_lb": 180,
            "measurements": {"waist_in": 32, "hips_cm": 100},
        },
        headers=me.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["weight_kg"] == pytest.approx(81.647, abs=0.001)
    assert body["measurements"] == {"waist_cm": 81.28, "hips_cm": 100}
    assert body["display"]["weight_unit"] == "kg"
    await client.put("/progress/settings", json={"units": "imperial"}, headers=me.headers)
    listed = (await client.get("/progress/body-metrics", headers=me.headers)).json()["items"]
    assert listed[0]["display"] == {
        "units": "imperial",
        "weight": 180.0,
        "weight_unit": "lb",
        "measurements": {"waist": 32.0, "hips": 39.4},
        "length_unit": "in",
    }
    assert listed[0]["weight_kg"] == body["weight_kg"]


@pytest.mark.parametrize(
    "body",
    [
        {"measured_at": "2026-05-01T07:00:00Z"},
        {"measured_at": "2026-05-01T07:00:00", "weight_kg": 80},
        {"measured_at": "2026-05-01T07:00:00Z", "weight_kg": 80, "weight_lb": 176},
        {"measured_at": "2026-05-01T07:00:00Z", "measurements": {"waist": 80}},
        {"measured_at": "2026-05-01T07:00:00Z", "weight_kg": 0},
    ],
)
async def test_invalid_body_metrics_are_422(
    client: httpx.AsyncClient, container: Container, body: dict[str, object]
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    response = await client.post("/progress/body-metrics", json=body, headers=me.headers)
    assert response.status_code == 422


async def test_same_instant_twice_is_409(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    body = {"measured_at": "2026-05-01T07:00:00Z", "weight_kg": 80}
    assert (
        await client.post("/progress/body-metrics", json=body, headers=me.headers)
    ).status_code == 201
    again = await client.post("/progress/body-metrics", json=body, headers=me.headers)
    assert again.status_code == 409


async def test_weight_trend_has_a_moving_average_and_changes(
    client: httpx.AsyncClient, container: Container, frozen: None
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    for days_ago in range(100, -1, -5):
        await client.post(
            "/progress/body-metrics",
            json={
                "measured_at": (NOW - timedelta(days=days_ago)).isoformat(),
                "weight_kg": 90 - (100 - days_ago) * 0.05,
            },
            headers=me.headers,
        )
    trend = await client.get(
        "/progress/body-metrics/trends", params={"days": 120}, headers=me.headers
    )
    assert trend.status_code == 200
    body = trend.json()
    assert body["unit"] == "kg"
    assert len(body["points"]) == 21
    assert body["latest"] == pytest.approx(85.0)
    assert body["change_30d"] == pytest.approx(-1.5)
    assert body["change_90d"] == pytest.approx(-4.5)
    last = body["points"][-1]
    assert last["avg_7d"] == pytest.approx((85.0 + 85.25) / 2, abs=0.01)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym)
    as_owner = await client.get(f"/analytics/clients/{me.id}/body-metrics", headers=owner.headers)
    assert as_owner.status_code == 200
    raw = await client.get(
        "/progress/body-metrics", params={"client_id": str(me.id)}, headers=owner.headers
    )
    assert raw.status_code == 403


async def test_cooper_test_gives_vo2max_and_bmi(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym)
    await coach(client, trainer, me)
    response = await client.post(
        "/progress/assessments",
        json={
            "client_id": str(me.id),
            "assessed_at": "2026-05-01T09:00:00Z",
            "weight_kg": 80,
            "height_cm": 180,
            "cooper_distance_m": 2800,
            "resting_hr": 55,
        },
        headers=trainer.headers,
    )
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    assert results["vo2max"]["value"] == pytest.approx((2800 - 504.9) / 44.73, abs=0.05)
    assert results["vo2max"]["test"] == "cooper_12min"
    assert results["bmi"]["value"] == pytest.approx(24.7)
    listed = await client.get("/progress/assessments", headers=me.headers)
    assert [a["id"] for a in listed.json()] == [response.json()["id"]]


async def test_gym_aggregates_are_for_staff(
    client: httpx.AsyncClient, container: Container, frozen: None
) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym)
    await client.post(
        "/progress/workout-logs",
        json={
            "performed_at": (NOW - timedelta(days=1)).isoformat(),
            "entries": [{"exercise_name": "Deadlift", "sets": [{"reps": 5, "load_kg": 140}]}],
        },
        headers=me.headers,
    )
    weeks = await client.get("/analytics/gym/progress", params={"weeks": 2}, headers=owner.headers)
    assert weeks.status_code == 200
    rows = weeks.json()
    assert len(rows) == 2
    assert sum(w["workouts"] for w in rows) == 1
    assert sum(w["volume_kg"] for w in rows) == 700
    assert max(w["active_clients"] for w in rows) == 1
    assert (await client.get("/analytics/gym/progress", headers=me.headers)).status_code == 403
    volume = await client.get(
        f"/analytics/clients/{me.id}/weekly-volume", params={"weeks": 2}, headers=owner.headers
    )
    assert [w["by_muscle"] for w in volume.json() if w["workouts"]] == [{"lower-back": 700}]
