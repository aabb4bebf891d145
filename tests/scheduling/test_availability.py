"""Availability and free slots through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from fitsync.bootstrap import Container
from tests.scheduling.conftest import World, make_world, set_hours

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = {"weekday": 1, "start_time": "09:00", "end_time": "12:00"}


async def slots(
    client: httpx.AsyncClient, world: World, start: datetime, end: datetime, duration: int = 60
) -> httpx.Response:
    return await client.get(
        f"/trainers/{world.trainer.id}/slots",
        headers=world.client.headers,
        params={"from": start.isoformat(), "to": end.isoformat(), "duration": duration},
    )


def local(items: list[dict[str, str]]) -> list[str]:
    return [
        datetime.fromisoformat(i["starts_at"]).astimezone(BERLIN).strftime("%a %d %H:%M")
        for i in items
    ]


async def test_trainer_publishes_hours_and_clients_see_slots(
    client: httpx.AsyncClient, world: World, set_now: Callable[[datetime], None]
) -> None:
    set_now(datetime(2027, 3, 15, tzinfo=UTC))
    await set_hours(client, world, [MONDAY_9], slot_minutes=60, durations=[60])
    response = await slots(
        client, world, datetime(2027, 3, 22, tzinfo=UTC), datetime(2027, 3, 23, tzinfo=UTC)
    )
    assert response.status_code == 200, response.text
    assert local(response.json()["items"]) == ["Mon 22 09:00", "Mon 22 10:00", "Mon 22 11:00"]
    assert response.json()["items"][0] == {
        "starts_at": "2027-03-22T08:00:00Z",
        "ends_at": "2027-03-22T09:00:00Z",
    }


async def test_nine_o_clock_stays_nine_across_the_dst_change(
    client: httpx.AsyncClient, world: World, set_now: Callable[[datetime], None]
) -> None:
    set_now(datetime(2027, 3, 15, tzinfo=UTC))
    await set_hours(client, world, [MONDAY_9], slot_minutes=180, durations=[60])
    response = await slots(
        client, world, datetime(2027, 3, 21, tzinfo=UTC), datetime(2027, 4, 6, tzinfo=UTC)
    )
    starts = [i["starts_at"] for i in response.json()["items"]]
    # 28 March 2027: Berlin moves from UTC+1 to UTC+2.
    assert starts == ["2027-03-22T08:00:00Z", "2027-03-29T07:00:00Z", "2027-04-05T07:00:00Z"]


async def test_exceptions_and_breaks_shape_the_day(
    client: httpx.AsyncClient, world: World, set_now: Callable[[datetime], None]
) -> None:
    set_now(datetime(2027, 3, 15, tzinfo=UTC))
    await set_hours(
        client,
        world,
        [{"weekday": 1, "start_time": "09:00", "end_time": "13:00"}],
        slot_minutes=60,
        durations=[60],
        breaks=[{"weekday": 1, "start_time": "11:00", "end_time": "12:00"}],
        exceptions=[
            {"date": "2027-03-29", "unavailable": True},
            {
                "date": "2027-04-05",
                "start_time": "15:00",
                "end_time": "17:00",
                "unavailable": False,
            },
        ],
    )
    response = await slots(
        client, world, datetime(2027, 3, 22, tzinfo=UTC), datetime(2027, 4, 6, tzinfo=UTC)
    )
    assert local(response.json()["items"]) == [
        "Mon 22 09:00",
        "Mon 22 10:00",
        "Mon 22 12:00",
        "Mon 05 15:00",
        "Mon 05 16:00",
    ]


async def test_slots_are_never_in_the_past(
    client: httpx.AsyncClient, world: World, set_now: Callable[[datetime], None]
) -> None:
    set_now(datetime(2027, 3, 22, 9, 20, tzinfo=UTC))  # Monday 10:20 in Berlin
    await set_hours(client, world, [MONDAY_9], slot_minutes=30, durations=[60])
    response = await slots(
        client, world, datetime(2027, 3, 22, tzinfo=UTC), datetime(2027, 3, 23, tzinfo=UTC)
    )
    assert local(response.json()["items"]) == ["Mon 22 10:30", "Mon 22 11:00"]


async def test_booked_sessions_and_buffers_are_not_free(
    client: httpx.AsyncClient, container: Container, set_now: Callable[[datetime], None]
) -> None:
    world = await make_world(container, settings={"session_buffer_minutes": 30})
    set_now(datetime(2027, 3, 15, tzinfo=UTC))
    await set_hours(client, world, [MONDAY_9], slot_minutes=30, durations=[60])
    booked = await client.post(
        "/bookings",
        headers=world.client.headers,
        json={
            "trainer_id": str(world.trainer.id),
            "starts_at": "2027-03-22T09:30:00+01:00",
            "duration_minutes": 60,
        },
    )
    assert booked.status_code == 201, booked.text
    response = await slots(
        client, world, datetime(2027, 3, 22, tzinfo=UTC), datetime(2027, 3, 23, tzinfo=UTC)
    )
    # 09:30-10:30 is taken; 30 minutes of buffer on both sides leave only 11:00.
    assert local(response.json()["items"]) == ["Mon 22 11:00"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"duration": 45}, "duration"),
        ({"from": "2027-03-22T00:00:00", "to": "2027-03-23T00:00:00Z"}, "from"),
        ({"from": "2027-03-22T00:00:00Z", "to": "2027-06-22T00:00:00Z"}, "to"),
        ({"from": "2027-03-22T00:00:00Z", "to": "2027-03-21T00:00:00Z"}, "to"),
    ],
)
async def test_bad_slot_queries_are_422(
    client: httpx.AsyncClient, world: World, params: dict[str, object], loc: str
) -> None:
    await set_hours(client, world, durations=[60])
    response = await client.get(
        f"/trainers/{world.trainer.id}/slots", headers=world.client.headers, params=params
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][-1] == loc


async def test_only_the_trainer_or_the_owner_sets_hours(
    client: httpx.AsyncClient, container: Container, world: World
) -> None:
    body = {"rules": [MONDAY_9]}
    path = f"/trainers/{world.trainer.id}/availability"
    assert (await client.put(path, headers=world.client.headers, json=body)).status_code == 403
    assert (await client.put(path, headers=world.owner.headers, json=body)).status_code == 200
    other = await make_world(container, clients=0)
    assert (await client.put(path, headers=other.trainer.headers, json=body)).status_code == 404
    assert (await client.put(path, headers=other.owner.headers, json=body)).status_code == 404
    got = await client.get(path, headers=world.client.headers)
    assert got.json()["rules"] == [{"weekday": 1, "start_time": "09:00:00", "end_time": "12:00:00"}]
    assert got.json()["timezone"] == "Europe/Berlin"


async def test_other_gym_gets_404_for_slots(
    client: httpx.AsyncClient, container: Container, world: World
) -> None:
    other = await make_world(container, clients=1)
    response = await client.get(f"/trainers/{world.trainer.id}/slots", headers=other.client.headers)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "rule",
    [
        {"weekday": 8, "start_time": "09:00", "end_time": "10:00"},
        {"weekday": 1, "start_time": "10:00", "end_time": "09:00"},
        {"weekday": 1, "start_time": "09:00:30", "end_time": "10:00"},
    ],
)
async def test_bad_rules_are_422(
    client: httpx.AsyncClient, world: World, rule: dict[str, object]
) -> None:
    response = await client.put(
        f"/trainers/{world.trainer.id}/availability",
        headers=world.trainer.headers,
        json={"rules": [rule]},
    )
    assert response.status_code == 422


async def test_four_week_window_is_served(client: httpx.AsyncClient, world: World) -> None:
    await set_hours(client, world)
    start = datetime.now(UTC) + timedelta(days=1)
    response = await slots(client, world, start, start + timedelta(weeks=4), duration=60)
    assert response.status_code == 200
    assert len(response.json()["items"]) > 28 * 10
