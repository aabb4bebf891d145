"""The live stream (Server-Sent Events) over a real HTTP server: seat counts reach the
gym's members, and only them."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from fitsync.bootstrap import Container
from tests.scheduling.conftest import User, book_class, create_class, make_world


@pytest.fixture
async def server(app: FastAPI, clean_state: None) -> AsyncIterator[str]:
    """The test app behind uvicorn on a free port (the ASGI test transport buffers
    whole responses, so a stream needs a real server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=2)
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not instance.started:
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}/api/v1"
    instance.should_exit = True
    await task
    sock.close()


class Stream:
    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines

    async def next_event(self) -> tuple[str, dict[str, Any]]:
        name, data = "message", ""
        async with asyncio.timeout(10):
            async for line in self.lines:
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = line.removeprefix("data: ")
                elif line == "" and data:
                    return name, json.loads(data)
        raise AssertionError("the stream ended")


@asynccontextmanager
async def listening(base: str, user: User, *, query_token: bool = False) -> AsyncIterator[Stream]:
    params = {"token": user.token} if query_token else {}
    headers = {} if query_token else user.headers
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("GET", f"{base}/stream", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response.aiter_lines())
        assert (await stream.next_event())[0] == "ready"
        yield stream


async def test_seat_counts_reach_only_the_gyms_members(
    server: str, client: httpx.AsyncClient, container: Container
) -> None:
    gym_a = await make_world(container, clients=2)
    gym_b = await make_world(container, clients=1)
    class_a = await create_class(client, gym_a, capacity=3)
    class_b = await create_class(client, gym_b, capacity=4)
    async with (
        listening(server, gym_a.clients[1]) as watcher_a,
        listening(server, gym_b.client, query_token=True) as watcher_b,
    ):
        assert (await book_class(client, gym_a.client, class_a["id"])).status_code == 201
        name, data = await watcher_a.next_event()
        assert name == "class.seats"
        assert data == {
            "class_id": class_a["id"],
            "booked": 1,
            "capacity": 3,
            "waitlist": 0,
            "status": "scheduled",
        }
        assert (await book_class(client, gym_b.client, class_b["id"])).status_code == 201
        name, data = await watcher_b.next_event()  # gym A's notice never arrived here
        assert (name, data["class_id"], data["booked"]) == ("class.seats", class_b["id"], 1)


async def test_stream_needs_a_token(server: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server}/stream")
        assert response.status_code == 401
        response = await http.get(f"{server}/stream", params={"token": "forged"})
        assert response.status_code == 401
