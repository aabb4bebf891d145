"""Gyms (tenants): creation, reading, settings, staff, and tenant isolation."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.identity.models import User
from fitsync.kernel.auth import Role
from fitsync.kernel.db import transaction
from fitsync.kernel.outbox import consume_once, consumers, relay_once
from tests.factories import PASSWORD, make_gym, make_user, signed_in


async def test_admin_creates_a_gym_with_an_invited_owner(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await signed_in(client, container, role=Role.admin)
    response = await client.post(
        "/gyms",
        headers=admin.headers,
        json={
            "name": "Harbour Boxing",
            "timezone": "America/New_York",
            "currency": "usd",
            "owner_email": "boss@harbour.example.com",
        },
    )
    assert response.status_code == 201, response.text
    gym = response.json()
    assert gym["currency"] == "USD"
    assert gym["settings"]["cancellation_window_hours"] == 12
    assert gym["owner"]["role"] == "gym_owner"
    token = gym["owner_invitation_url"].rsplit("/", 1)[1]
    await client.post("/auth/accept-invitation", json={"token": token, "password": PASSWORD})
    login = await client.post(
        "/auth/login", json={"email": "boss@harbour.example.com", "password": PASSWORD}
    )
    assert login.json()["user"]["gym_id"] == gym["id"]


async def test_gym_with_a_taken_owner_email_is_not_created(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    admin = await signed_in(client, container, role=Role.admin)
    response = await client.post(
        "/gyms",
        headers=admin.headers,
        json={"name": "Dup", "timezone": "UTC", "currency": "EUR", "owner_email": admin.email},
    )
    assert response.status_code == 409
    async with admin_engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM gyms.gyms")) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Mars/Olympus"),
        ("currency", "euro"),
        ("name", ""),
        ("owner_email", "not-an-email"),
    ],
)
async def test_invalid_gym_is_refused(
    client: httpx.AsyncClient, container: Container, field: str, value: str
) -> None:
    admin = await signed_in(client, container, role=Role.admin)
    body = {"name": "G", "timezone": "UTC", "currency": "EUR", field: value}
    response = await client.post("/gyms", headers=admin.headers, json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", field]


@pytest.mark.parametrize("role", [Role.client, Role.trainer, Role.gym_owner])
async def test_members_read_their_gym_and_nobody_elses(
    client: httpx.AsyncClient, container: Container, role: Role
) -> None:
    mine, theirs = await make_gym(container, "Mine"), await make_gym(container, "Theirs")
    member = await signed_in(client, container, role=role, gym_id=mine)
    assert (await client.get(f"/gyms/{mine}", headers=member.headers)).status_code == 200
    other = await client.get(f"/gyms/{theirs}", headers=member.headers)
    assert other.status_code == 404
    assert (
        await client.get(f"/gyms/{uuid.uuid4()}", headers=member.headers)
    ).json() == other.json()


async def test_owner_updates_settings_partially(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym)
    first = await client.patch(
        f"/gyms/{gym}", headers=owner.headers, json={"settings": {"cancellation_window_hours": 24}}
    )
    assert first.status_code == 200
    second = await client.patch(
        f"/gyms/{gym}",
        headers=owner.headers,
        json={"settings": {"session_buffer_minutes": 15}, "branding": {"primary_color": "#112233"}},
    )
    body = second.json()
    assert body["settings"]["cancellation_window_hours"] == 24
    assert body["settings"]["session_buffer_minutes"] == 15
    assert body["branding"]["primary_color"] == "#112233"

    logo = "https://cdn.example.com/iron-oak.png"
    third = await client.patch(
        f"/gyms/{gym}", headers=owner.headers, json={"branding": {"logo_url": logo}}
    )
    assert third.json()["branding"] == {
        "primary_color": "#112233",
        "accent_color": "#f59e0b",
        "logo_url": logo,
    }


@pytest.mark.parametrize(
    "patch",
    [
        {"settings": {"cancellation_window_hours": -1}},
        {"settings": {"surprise": 1}},
        {"branding": {"primary_color": "red"}},
        {"branding": {"logo_url": "javascript:alert(1)"}},
        {"branding": {"logo_url": "//elsewhere.example.com/logo.png"}},
        {"member_count": 1000},
        {"id": "00000000-0000-0000-0000-000000000000"},
    ],
)
async def test_bad_gym_patch_is_refused(
    client: httpx.AsyncClient, container: Container, patch: dict[str, object]
) -> None:
    gym = await make_gym(container)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym)
    assert (
        await client.patch(f"/gyms/{gym}", headers=owner.headers, json=patch)
    ).status_code == 422


@pytest.mark.parametrize("role", [Role.client, Role.trainer])
async def test_only_the_owner_changes_the_gym(
    client: httpx.AsyncClient, container: Container, role: Role
) -> None:
    gym = await make_gym(container)
    member = await signed_in(client, container, role=role, gym_id=gym)
    response = await client.patch(f"/gyms/{gym}", headers=member.headers, json={"name": "Hijacked"})
    assert response.status_code == 403


async def test_owner_of_another_gym_gets_404_on_patch_and_staff(
    client: httpx.AsyncClient, container: Container
) -> None:
    mine, theirs = await make_gym(container, "Mine"), await make_gym(container, "Theirs")
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=mine)
    assert (
        await client.patch(f"/gyms/{theirs}", headers=owner.headers, json={"name": "X"})
    ).status_code == 404
    staff = {"email": "t@example.com", "first_name": "T", "last_name": "T"}
    assert (
        await client.post(f"/gyms/{theirs}/staff", headers=owner.headers, json=staff)
    ).status_code == 404


async def test_owner_invites_a_trainer(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym)
    response = await client.post(
        f"/gyms/{gym}/staff",
        headers=owner.headers,
        json={"email": "coach@example.com", "first_name": "Cora", "last_name": "Coach"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["role"] == "trainer"
    assert body["user"]["gym_id"] == str(gym)
    assert body["invitation_url"].startswith("http://testserver/invitations/")


async def test_trainer_cannot_invite_staff(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    trainer = await signed_in(client, container, role=Role.trainer, gym_id=gym)
    staff = {"email": "t@example.com", "first_name": "T", "last_name": "T"}
    assert (
        await client.post(f"/gyms/{gym}/staff", headers=trainer.headers, json=staff)
    ).status_code == 403


async def test_directory_lists_gyms_for_sign_up(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_gym(container, "Alpha")
    await make_gym(container, "Beta")
    response = await client.get("/gyms")
    assert response.status_code == 200
    assert [g["name"] for g in response.json()] == ["Alpha", "Beta"]
    assert set(response.json()[0]) == {"id", "name", "timezone", "currency"}


async def test_member_counts_follow_registrations_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=gym)
    for i in range(3):
        body = {
            "email": f"m{i}@example.com",
            "password": PASSWORD,
            "first_name": "M",
            "last_name": "M",
            "gym_id": str(gym),
        }
        assert (await client.post("/auth/register", json=body)).status_code == 201
    await relay_once(container.sessionmaker, container.bus)
    (counter,) = [c for c in consumers() if c.name == "gyms.member-counts"]
    await consume_once(container.sessionmaker, container.bus, counter)
    # The same events delivered again (a relay crash before marking them) change nothing.
    entries = await container.redis.xrange(container.bus.stream)
    for _id, fields in entries:
        await container.redis.xadd(container.bus.stream, fields)
    await consume_once(container.sessionmaker, container.bus, counter)
    body = (await client.get(f"/gyms/{gym}", headers=owner.headers)).json()
    assert body["member_count"] == 3
    assert body["staff_count"] == 1  # the owner


async def test_row_level_security_hides_other_gyms_from_a_careless_query(
    container: Container,
) -> None:
    mine, theirs = await make_gym(container, "Mine"), await make_gym(container, "Theirs")
    await make_user(container, gym_id=mine)
    await make_user(container, gym_id=theirs)
    async with transaction(container.sessionmaker, gym_id=mine) as session:
        # No WHERE on gym_id: the database itself keeps the other tenant out.
        users = list((await session.execute(select(User))).scalars())
    assert [u.gym_id for u in users] == [mine]
    with pytest.raises(Exception, match="row-level security"):
        async with transaction(container.sessionmaker, gym_id=mine) as session:
            session.add(
                User(
                    email="x@example.com",
                    first_name="X",
                    last_name="Y",
                    role="client",
                    gym_id=theirs,
                )
            )
            await session.flush()
