"""Conversations and messages over HTTP: who may talk, bad input, edits, read state."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from tests.factories import Account, coach, make_gym, signed_in


async def _pair(client: httpx.AsyncClient, container: Container) -> tuple[Account, Account]:
    gym_id = await make_gym(container)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym_id)
    member = await signed_in(client, container, role=Role.client, gym_id=gym_id)
    await coach(client, trainer, member)
    return trainer, member


async def _conversation(client: httpx.AsyncClient, me: Account, *others: Account) -> str:
    response = await client.post(
        "/conversations", headers=me.headers, json={"participant_ids": [str(o.id) for o in others]}
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


async def _post(client: httpx.AsyncClient, me: Account, conv: str, body: str) -> httpx.Response:
    return await client.post(
        f"/conversations/{conv}/messages", headers=me.headers, json={"text": body}
    )


async def test_client_starts_a_chat_with_their_trainer_and_asking_again_returns_it(
    client: httpx.AsyncClient, container: Container
) -> None:
    trainer, member = await _pair(client, container)
    first = await client.post(
        "/conversations", headers=member.headers, json={"participant_ids": [str(trainer.id)]}
    )
    assert first.status_code == 201
    body = first.json()
    assert body["is_group"] is False
    assert set(body["participant_ids"]) == {str(trainer.id), str(member.id)}
    assert {p["role"] for p in body["participants"]} == {"trainer", "client"}
    assert body["last_message"] is None
    assert body["unread_count"] == 0
    again = await client.post(
        "/conversations", headers=trainer.headers, json={"participant_ids": [str(member.id)]}
    )
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]


async def test_concurrent_requests_for_one_pair_make_one_conversation(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    trainer, member = await _pair(client, container)
    responses = await asyncio.gather(
        *(
            client.post(
                "/conversations",
                headers=(member if n % 2 else trainer).headers,
                json={"participant_ids": [str((trainer if n % 2 else member).id)]},
            )
            for n in range(20)
        )
    )
    assert sorted(r.status_code for r in responses).count(201) == 1
    assert {r.json()["id"] for r in responses} == {responses[0].json()["id"]}
    async with admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM messaging.conversations")) == 1
        assert await conn.scalar(text("SELECT count(*) FROM messaging.participants")) == 2


async def test_a_client_cannot_message_another_client(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym_id = await make_gym(container)
    one = await signed_in(client, container, gym_id=gym_id)
    two = await signed_in(client, container, gym_id=gym_id)
    response = await client.post(
        "/conversations", headers=one.headers, json={"participant_ids": [str(two.id)]}
    )
    assert response.status_code == 403


async def test_staff_may_start_a_group_with_clients(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym_id = await make_gym(container)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym_id)
    one = await signed_in(client, container, gym_id=gym_id)
    two = await signed_in(client, container, gym_id=gym_id)
    response = await client.post(
        "/conversations",
        headers=owner.headers,
        json={"participant_ids": [str(one.id), str(two.id)], "title": "Saturday run club"},
    )
    assert response.status_code == 201
    assert response.json()["is_group"] is True
    assert len(response.json()["participants"]) == 3


@pytest.mark.parametrize(
    "participants",
    [
        pytest.param("other-gym", id="user of another gym"),
        pytest.param("unknown", id="no such user"),
        pytest.param("nobody", id="empty list"),
        pytest.param("self", id="only myself"),
    ],
)
async def test_bad_participants_are_422(
    client: httpx.AsyncClient, container: Container, participants: str
) -> None:
    trainer, _member = await _pair(client, container)
    stranger = await signed_in(
        client, container, role=Role.trainer, gym_id=await make_gym(container)
    )
    ids = {
        "other-gym": [str(stranger.id)],
        "unknown": [str(uuid.uuid4())],
        "nobody": [],
        "self": [str(trainer.id)],
    }[participants]
    response = await client.post(
        "/conversations", headers=trainer.headers, json={"participant_ids": ids}
    )
    assert response.status_code == 422


async def test_only_participants_see_a_conversation(
    client: httpx.AsyncClient, container: Container
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)
    message = (await _post(client, member, conv, "hello")).json()
    outsider = await signed_in(client, container, role=Role.trainer, gym_id=trainer.gym_id)
    other_gym = await signed_in(
        client, container, role=Role.trainer, gym_id=await make_gym(container)
    )
    for who in (outsider, other_gym):
        assert (await client.get(f"/conversations/{conv}", headers=who.headers)).status_code == 404
        listed = await client.get(f"/conversations/{conv}/messages", headers=who.headers)
        assert listed.status_code == 404
        assert (await _post(client, who, conv, "let me in")).status_code == 404
        read = await client.post(
            f"/conversations/{conv}/read", headers=who.headers, json={"up_to": message["id"]}
        )
        assert read.status_code == 404
        assert (await client.get("/conversations", headers=who.headers)).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("x" * 4000, 201),
        ("x" * 4001, 422),
        ("", 422),
        ("   ", 422),
    ],
)
async def test_message_length_is_1_to_4000_characters(
    client: httpx.AsyncClient, container: Container, body: str, status: int
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)
    assert (await _post(client, member, conv, body)).status_code == status


async def test_html_is_stored_and_returned_as_text(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)
    evil = '<script>alert("x")</script><b>hi</b>'
    created = await _post(client, member, conv, evil)
    assert created.status_code == 201
    body = created.json()
    assert set(body) >= {"id", "conversation_id", "sender_id", "text", "created_at"}
    assert body["text"] == evil
    page = (await client.get(f"/conversations/{conv}/messages", headers=trainer.headers)).json()
    assert page["items"][0]["text"] == evil
    async with admin_engine.connect() as conn:
        doc = await conn.scalar(text("SELECT doc FROM messaging.messages"))
    assert doc == {"text": evil, "attachments": []}


async def test_message_sent_event_carries_the_documented_fields(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)
    message = (await _post(client, member, conv, "Can we move to 7pm?\n\nThanks")).json()
    async with admin_engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT gym_id, actor_id, data FROM kernel.outbox WHERE type = 'message.sent'")
            )
        ).one()
    assert row.gym_id == member.gym_id
    assert row.actor_id == member.id
    assert row.data == {
        "message_id": message["id"],
        "conversation_id": conv,
        "sender_id": str(member.id),
        "sender_name": "Test Client",
        "recipient_ids": [str(trainer.id)],
        "preview": "Can we move to 7pm? Thanks",
    }


async def test_attachments_are_references_with_valid_urls(
    client: httpx.AsyncClient, container: Container
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)
    attachment = {"url": "https://files.example.com/form.pdf", "name": "form.pdf", "size_bytes": 10}
    ok = await client.post(
        f"/conversations/{conv}/messages",
        headers=member.headers,
        json={"text": "see attached", "attachments": [attachment]},
    )
    assert ok.status_code == 201
    assert ok.json()["attachments"][0]["name"] == "form.pdf"
    bad = await client.post(
        f"/conversations/{conv}/messages",
        headers=member.headers,
        json={"text": "x", "attachments": [{"url": "javascript:alert(1)", "name": "x"}]},
    )
    assert bad.status_code == 422


async def test_pages_of_messages_latest_then_after_and_before(
    client: httpx.AsyncClient, container: Container
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)
    ids = [(await _post(client, member, conv, f"m{n}")).json()["id"] for n in range(7)]
    url = f"/conversations/{conv}/messages"
    latest = (await client.get(f"{url}?limit=3", headers=trainer.headers)).json()
    assert [m["id"] for m in latest["items"]] == ids[4:]
    assert latest["next_cursor"] is None
    older = (
        await client.get(f"{url}?limit=3&before={latest['before_cursor']}", headers=trainer.headers)
    ).json()
    assert [m["id"] for m in older["items"]] == ids[1:4]
    after = (await client.get(f"{url}?limit=4&after={ids[1]}", headers=trainer.headers)).json()
    assert [m["id"] for m in after["items"]] == ids[2:6]
    assert after["next_cursor"] == ids[5]
    rest = (await client.get(f"{url}?after={after['next_cursor']}", headers=trainer.headers)).json()
    assert [m["id"] for m in rest["items"]] == ids[6:]
    assert rest["next_cursor"] is None
    unknown = await client.get(f"{url}?after={uuid.uuid4()}", headers=trainer.headers)
    assert unknown.status_code == 404


async def test_only_the_sender_edits_and_deletes_leaving_a_tombstone(
    client: httpx.AsyncClient, container: Container
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)
    message = (await _post(client, member, conv, "typo hrere")).json()
    path = f"/conversations/{conv}/messages/{message['id']}"
    assert (
        await client.patch(path, headers=trainer.headers, json={"text": "x"})
    ).status_code == 403
    edited = await client.patch(path, headers=member.headers, json={"text": "typo here"})
    assert edited.status_code == 200
    assert edited.json()["text"] == "typo here"
    assert edited.json()["edited_at"] is not None
    assert (await client.delete(path, headers=trainer.headers)).status_code == 403
    assert (await client.delete(path, headers=member.headers)).status_code == 204
    assert (await client.delete(path, headers=member.headers)).status_code == 204
    [tomb] = (await client.get(f"/conversations/{conv}/messages", headers=trainer.headers)).json()[
        "items"
    ]
    assert tomb["id"] == message["id"]
    assert tomb["deleted"] is True
    assert tomb["text"] is None
    assert (
        await client.patch(path, headers=member.headers, json={"text": "back"})
    ).status_code == 409


async def test_unread_counts_follow_read_marks_and_rebuild_from_postgres(
    client: httpx.AsyncClient, container: Container
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)

    async def unread() -> int:
        items = (await client.get("/conversations", headers=trainer.headers)).json()["items"]
        return int(items[0]["unread_count"])

    assert await unread() == 0  # builds the trainer's counters
    ids = [(await _post(client, member, conv, f"m{n}")).json()["id"] for n in range(3)]
    await _post(client, trainer, conv, "my own message never counts")
    assert await unread() == 3
    read = await client.post(
        f"/conversations/{conv}/read", headers=trainer.headers, json={"up_to": ids[1]}
    )
    assert read.json() == {"conversation_id": conv, "up_to": ids[1], "unread_count": 1}
    assert await unread() == 1
    # A read mark never moves back.
    await client.post(
        f"/conversations/{conv}/read", headers=trainer.headers, json={"up_to": ids[0]}
    )
    assert await unread() == 1
    # The counters are a cache: gone, they are rebuilt from PostgreSQL.
    keys = [k async for k in container.redis.scan_iter(match=container.keys("unread", "*"))]
    await container.redis.delete(*keys)
    assert await unread() == 1
    await client.delete(f"/conversations/{conv}/messages/{ids[2]}", headers=member.headers)
    assert await unread() == 0


async def test_conversations_list_most_recent_first_with_last_message(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym_id = await make_gym(container)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym_id)
    members = [await signed_in(client, container, gym_id=gym_id) for _ in range(3)]
    for m in members:
        await coach(client, trainer, m)
    convs = [await _conversation(client, m, trainer) for m in members]
    await _post(client, members[0], convs[0], "latest")
    first = (await client.get("/conversations?limit=2", headers=trainer.headers)).json()
    assert [c["id"] for c in first["items"]] == [convs[0], convs[2]]
    assert first["items"][0]["last_message"]["text"] == "latest"
    second = (
        await client.get(
            f"/conversations?limit=2&cursor={first['next_cursor']}", headers=trainer.headers
        )
    ).json()
    assert [c["id"] for c in second["items"]] == [convs[1]]
    assert second["next_cursor"] is None


async def test_concurrent_posts_get_distinct_gapless_seqs(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    trainer, member = await _pair(client, container)
    conv = await _conversation(client, member, trainer)
    responses = await asyncio.gather(
        *(_post(client, (member, trainer)[n % 2], conv, f"m{n}") for n in range(40))
    )
    assert all(r.status_code == 201 for r in responses)
    async with admin_engine.connect() as conn:
        seqs = sorted((await conn.execute(text("SELECT seq FROM messaging.messages"))).scalars())
    assert seqs == list(range(1, 41))


async def test_a_client_messages_only_their_own_trainers_and_the_owner(
    client: httpx.AsyncClient, container: Container
) -> None:
    trainer, member = await _pair(client, container)
    stranger_trainer = await signed_in(client, container, role=Role.trainer, gym_id=trainer.gym_id)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=trainer.gym_id)
    neighbour = await signed_in(client, container, gym_id=trainer.gym_id)
    for other, expected in (
        (trainer, 201),
        (owner, 201),
        (stranger_trainer, 403),
        (neighbour, 403),
    ):
        response = await client.post(
            "/conversations", headers=member.headers, json={"participant_ids": [str(other.id)]}
        )
        assert response.status_code == expected, (other.role, response.text)
