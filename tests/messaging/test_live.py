"""Live delivery over the WebSocket: order, resume without gaps or duplicates, fan-out
across server processes, and a Redis restart in the middle of it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from fitsync.app import create_app
from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from fitsync.settings import Settings
from tests.factories import Account, coach, make_gym, signed_in
from tests.servers import PrivateValkey, serve

TIMEOUT = 10.0


@pytest.fixture
async def ws_base(app: FastAPI, clean_state: None) -> AsyncIterator[str]:
    async with serve(app) as base:
        yield base


@pytest.fixture
async def second_worker(settings: Settings, clean_state: None) -> AsyncIterator[FastAPI]:
    """Another server process' worth of FitSync: its own hub, the same stores."""
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        yield other


async def _frames(ws: ClientConnection, n: int, kind: str = "message.sent") -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(TIMEOUT):
        while len(got) < n:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                got.append(frame["data"])
    return got


async def _quiet(ws: ClientConnection, seconds: float = 0.3) -> list[dict[str, Any]]:
    """Frames that arrive within ``seconds`` (to check that nothing more comes)."""
    extra = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                extra.append(json.loads(await ws.recv()))
    except TimeoutError:
        pass
    return extra


async def _ready(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        frame = json.loads(await ws.recv())
    assert frame["type"] == "ready", frame
    return dict(frame["data"])


async def _setup(client: httpx.AsyncClient, container: Container) -> tuple[Account, Account, str]:
    gym_id = await make_gym(container)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym_id)
    member = await signed_in(client, container, gym_id=gym_id)
    await coach(client, trainer, member)
    conv = await client.post(
        "/conversations", headers=member.headers, json={"participant_ids": [str(trainer.id)]}
    )
    return trainer, member, conv.json()["id"]


async def _post(client: httpx.AsyncClient, who: Account, conv: str, body: str) -> dict[str, Any]:
    response = await client.post(
        f"/conversations/{conv}/messages", headers=who.headers, json={"text": body}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_messages_arrive_live_in_order_each_once(
    client: httpx.AsyncClient, container: Container, ws_base: str
) -> None:
    trainer, member, conv = await _setup(client, container)
    async with connect(f"{ws_base}/ws?token={trainer.token}") as ws:
        await _ready(ws)
        sent = await asyncio.gather(
            *(_post(client, (member, trainer)[n % 3 == 0], conv, f"m{n}") for n in range(30))
        )
        got = await _frames(ws, 30)
        assert [m["seq"] for m in got] == sorted(m["seq"] for m in sent)
        assert {m["id"] for m in got} == {m["id"] for m in sent}
        assert [f for f in await _quiet(ws) if f["type"] == "message.sent"] == []


async def test_token_may_come_in_the_first_frame_and_bad_tokens_are_refused(
    client: httpx.AsyncClient, container: Container, ws_base: str
) -> None:
    trainer, member, conv = await _setup(client, container)
    async with connect(f"{ws_base}/ws") as ws:
        await ws.send(json.dumps({"type": "auth", "token": trainer.token}))
        await _ready(ws)
        await _post(client, member, conv, "hi")
        [message] = await _frames(ws, 1)
        assert message["text"] == "hi"
        await ws.send(json.dumps({"type": "ping"}))
        await _frames(ws, 1, kind="pong")
    async with connect(f"{ws_base}/ws?token=not-a-token") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


async def test_reconnecting_with_after_fills_the_gap_without_duplicates(
    client: httpx.AsyncClient, container: Container, ws_base: str
) -> None:
    trainer, member, conv = await _setup(client, container)
    async with connect(f"{ws_base}/ws?token={trainer.token}") as ws:
        await _ready(ws)
        for n in range(3):
            await _post(client, member, conv, f"before {n}")
        seen = await _frames(ws, 3)
    missed = [await _post(client, member, conv, f"while away {n}") for n in range(4)]
    async with connect(f"{ws_base}/ws?token={trainer.token}&after={seen[-1]['id']}") as ws:
        await _ready(ws)
        caught_up = await _frames(ws, 4)
        assert [m["id"] for m in caught_up] == [m["id"] for m in missed]
        live = await _post(client, member, conv, "live again")
        [after] = await _frames(ws, 1)
        assert after["id"] == live["id"]
        assert [f for f in await _quiet(ws) if f["type"] == "message.sent"] == []


async def test_live_events_include_read_receipts_and_edits(
    client: httpx.AsyncClient, container: Container, ws_base: str
) -> None:
    trainer, member, conv = await _setup(client, container)
    async with connect(f"{ws_base}/ws?token={member.token}") as ws:
        await _ready(ws)
        message = await _post(client, member, conv, "see you tomrrow")
        await _frames(ws, 1)
        await client.post(
            f"/conversations/{conv}/read", headers=trainer.headers, json={"up_to": message["id"]}
        )
        [receipt] = await _frames(ws, 1, kind="conversation.read")
        assert receipt == {**receipt, "user_id": str(trainer.id), "up_to": message["id"]}
        await client.patch(
            f"/conversations/{conv}/messages/{message['id']}",
            headers=member.headers,
            json={"text": "see you tomorrow"},
        )
        [edit] = await _frames(ws, 1, kind="message.updated")
        assert edit["text"] == "see you tomorrow"


async def test_a_post_on_one_server_reaches_a_socket_on_another(
    client: httpx.AsyncClient, container: Container, second_worker: FastAPI
) -> None:
    trainer, member, conv = await _setup(client, container)
    async with (
        serve(second_worker) as other_base,
        connect(f"{other_base}/ws?token={trainer.token}") as ws,
    ):
        await _ready(ws)
        sent = [await _post(client, member, conv, f"m{n}") for n in range(5)]
        got = await _frames(ws, 5)
    assert [m["id"] for m in got] == [m["id"] for m in sent]


async def test_a_socket_shows_the_user_online_for_message_notifications(
    client: httpx.AsyncClient, container: Container, ws_base: str
) -> None:
    from fitsync.messaging import public as messaging

    trainer, _member, _conv = await _setup(client, container)
    assert not await messaging.is_online(container.redis, container.keys, trainer.id)
    async with connect(f"{ws_base}/ws?token={trainer.token}") as ws:
        await _ready(ws)
        assert await messaging.is_online(container.redis, container.keys, trainer.id)
    for _ in range(50):
        if not await messaging.is_online(container.redis, container.keys, trainer.id):
            break
        await asyncio.sleep(0.05)
    assert not await messaging.is_online(container.redis, container.keys, trainer.id)


async def test_redis_restarted_mid_stream_loses_and_duplicates_nothing(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    trainer, member, conv = await _setup(client, container)
    valkey = PrivateValkey()
    valkey.start()
    try:
        private = create_app(settings.model_copy(update={"redis_url": valkey.url}))
        async with private.router.lifespan_context(private), serve(private) as base:
            transport = httpx.ASGITransport(app=private)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as api,
                connect(f"{base}/ws?token={trainer.token}") as ws,
            ):
                await _ready(ws)
                sent = [await _post(api, member, conv, f"before {n}") for n in range(3)]
                got = await _frames(ws, 3)
                valkey.stop()
                sent += [await _post(api, member, conv, f"during {n}") for n in range(3)]
                valkey.start()
                got += await _frames(ws, 3)  # caught up from PostgreSQL once back
                sent += [await _post(api, member, conv, f"after {n}") for n in range(3)]
                got += await _frames(ws, 3)
                assert [m["id"] for m in got] == [m["id"] for m in sent]
                assert [f for f in await _quiet(ws) if f["type"] == "message.sent"] == []
    finally:
        valkey.cleanup()


async def test_the_socket_closes_when_its_token_expires_unless_renewed(
    client: httpx.AsyncClient, container: Container, ws_base: str
) -> None:
    import jwt as pyjwt

    from fitsync.kernel import clock

    trainer, _member, _conv = await _setup(client, container)
    claims = pyjwt.decode(trainer.token, options={"verify_signature": False})

    def short_lived() -> str:
        """A token issued nearly 15 minutes ago: it expires in 2 seconds."""
        ago = container.tokens.access_ttl - timedelta(seconds=2)
        previous = clock.set_clock(clock.FrozenClock(clock.now() - ago))
        try:
            return container.tokens.issue(
                user_id=trainer.id,
                role="trainer",
                gym_id=trainer.gym_id,
                sid=uuid.UUID(claims["sid"]),
            )
        finally:
            clock.set_clock(previous)

    async with connect(f"{ws_base}/ws?token={short_lived()}") as ws:
        await _ready(ws)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(TIMEOUT):
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
    async with connect(f"{ws_base}/ws?token={short_lived()}") as ws:
        await _ready(ws)
        await ws.send(json.dumps({"type": "auth", "token": trainer.token}))
        assert await _quiet(ws, 3.0) == []  # renewed: still open past the first expiry
