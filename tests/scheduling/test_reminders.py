"""Durable booking reminders: due rows, sent once however often the job runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel import outbox
from fitsync.scheduling import tasks
from tests.scheduling.conftest import (
    World,
    book_class,
    create_class,
    in_days,
    outbox_events,
    scalar,
)


async def test_reminders_go_out_once_at_24h_and_2h(
    client: httpx.AsyncClient,
    container: Container,
    world: World,
    admin_engine: AsyncEngine,
    set_now: Callable[[datetime], None],
) -> None:
    start = in_days(3)
    created = await create_class(client, world, starts_at=start)
    booking = (await book_class(client, world.client, created["id"])).json()
    assert await tasks.send_reminders(container.sessionmaker, container.bus) == 0

    set_now(start - timedelta(hours=23))
    # Two workers at once, then again: each due reminder becomes one event.
    runs = await asyncio.gather(
        tasks.send_reminders(container.sessionmaker, container.bus),
        tasks.send_reminders(container.sessionmaker, container.bus),
    )
    assert sorted(runs) == [0, 1]
    assert await tasks.send_reminders(container.sessionmaker, container.bus) == 0
    [day_before] = await outbox_events(admin_engine, "booking.reminder")
    assert day_before["booking_id"] == booking["id"]
    assert day_before["lead_minutes"] == 24 * 60
    assert day_before["client_id"] == str(world.client.id)

    set_now(start - timedelta(hours=1))
    assert await tasks.send_reminders(container.sessionmaker, container.bus) == 1
    leads = [e["lead_minutes"] for e in await outbox_events(admin_engine, "booking.reminder")]
    assert leads == [1440, 120]


async def test_cancelled_bookings_get_no_reminder(
    client: httpx.AsyncClient,
    container: Container,
    world: World,
    admin_engine: AsyncEngine,
    set_now: Callable[[datetime], None],
) -> None:
    start = in_days(3)
    created = await create_class(client, world, starts_at=start)
    booking = (await book_class(client, world.client, created["id"])).json()
    await client.post(f"/bookings/{booking['id']}/cancel", headers=world.client.headers)
    assert await scalar(admin_engine, "SELECT count(*) FROM scheduling.reminders") == 0
    set_now(start - timedelta(hours=1))
    await tasks.send_reminders(container.sessionmaker, container.bus)
    assert await outbox_events(admin_engine, "booking.reminder") == []


async def test_a_reminder_reaches_the_event_stream(
    client: httpx.AsyncClient,
    container: Container,
    world: World,
    set_now: Callable[[datetime], None],
) -> None:
    start = in_days(3)
    created = await create_class(client, world, starts_at=start)
    await book_class(client, world.client, created["id"])
    set_now(start - timedelta(hours=2, minutes=-1))
    await tasks.send_reminders(container.sessionmaker, container.bus)
    while await outbox.relay_once(container.sessionmaker, container.bus):
        pass
    entries = await container.redis.xrange(container.bus.stream)
    types = [fields["type"] for _id, fields in entries]
    assert types.count("booking.reminder") == 2  # the 24 h one was due too
    assert types.count("booking.created") == 1
