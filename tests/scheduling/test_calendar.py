"""Secret iCalendar feeds, parsed back with the icalendar library."""

from __future__ import annotations

from typing import Any

import httpx
import icalendar

from tests.scheduling.conftest import User, World, book_class, create_class, in_days


async def feed_of(client: httpx.AsyncClient, user: User) -> dict[str, Any]:
    response = await client.get("/users/me/calendar", headers=user.headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def fetch(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"/calendar/{token}.ics")


def events(response: httpx.Response) -> dict[str, icalendar.Event]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    assert isinstance(calendar, icalendar.Calendar)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


async def test_feed_lists_bookings_with_stable_uids_and_sequence(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await create_class(client, world, starts_at=in_days(4), location="Studio 1")
    booking = (await book_class(client, world.client, created["id"])).json()
    feed = await feed_of(client, world.client)
    assert feed["url"] == f"http://testserver/api/v1/calendar/{feed['token']}.ics"
    assert (await feed_of(client, world.client))["token"] == feed["token"]

    before = events(await fetch(client, feed["token"]))
    uid = f"booking-{booking['id']}@fitsync"
    assert list(before) == [uid]
    event = before[uid]
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Spin"
    assert str(event["LOCATION"]) == "Studio 1"
    start = event.decoded("DTSTART")
    assert start.isoformat()
    assert str(start.tzinfo) == "Europe/Berlin"
    assert start == in_days(4)
    assert event.decoded("DTEND") - start == in_days(4, hour=11) - in_days(4)

    await client.post(f"/bookings/{booking['id']}/cancel", headers=world.client.headers)
    after = events(await fetch(client, feed["token"]))
    assert list(after) == [uid]
    assert str(after[uid]["STATUS"]) == "CANCELLED"
    assert int(after[uid]["SEQUENCE"]) > int(event["SEQUENCE"])


async def test_calendar_has_the_gyms_time_zone(client: httpx.AsyncClient, world: World) -> None:
    created = await create_class(client, world)
    await book_class(client, world.client, created["id"])
    calendar = icalendar.Calendar.from_ical(
        (await fetch(client, (await feed_of(client, world.client))["token"])).content
    )
    assert isinstance(calendar, icalendar.Calendar)
    zones = [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")]
    assert zones == ["Europe/Berlin"]


async def test_trainer_feed_has_their_sessions(client: httpx.AsyncClient, world: World) -> None:
    created = await create_class(client, world)
    await client.post(f"/classes/{created['id']}/cancel", headers=world.trainer.headers)
    found = events(await fetch(client, (await feed_of(client, world.trainer))["token"]))
    event = found[f"session-{created['id']}@fitsync"]
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) == 1


async def test_rotating_retires_the_old_token(client: httpx.AsyncClient, world: World) -> None:
    old = (await feed_of(client, world.client))["token"]
    rotated = await client.post("/users/me/calendar/rotate", headers=world.client.headers)
    assert rotated.status_code == 200
    new = rotated.json()["token"]
    assert new != old
    assert (await fetch(client, old)).status_code == 404
    assert (await fetch(client, new)).status_code == 200
    assert (await feed_of(client, world.client))["token"] == new


async def test_forged_tokens_are_404(client: httpx.AsyncClient, world: World) -> None:
    token = (await feed_of(client, world.client))["token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, "nope", "x" * 60):
        assert (await fetch(client, bad)).status_code == 404
