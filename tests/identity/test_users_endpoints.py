"""Profiles, user administration and the role/tenant access matrix."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from tests.factories import PASSWORD, login, make_gym, make_user, signed_in


async def test_me_returns_own_profile(client: httpx.AsyncClient, container: Container) -> None:
    gym_id = await make_gym(container)
    account = await signed_in(client, container, role=Role.trainer, gym_id=gym_id)
    for _ in range(2):  # the second answer comes from the profile cache
        response = await client.get("/users/me", headers=account.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(account.id)
        assert body["role"] == "trainer"
        assert body["gym_id"] == str(gym_id)


async def test_update_me_changes_names_and_the_cached_profile(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    await client.get("/users/me", headers=account.headers)  # fill the cache
    response = await client.put(
        "/users/me", headers=account.headers, json={"first_name": "Renamed"}
    )
    assert response.status_code == 200
    assert response.json()["first_name"] == "Renamed"
    assert (await client.get("/users/me", headers=account.headers)).json()[
        "first_name"
    ] == "Renamed"


@pytest.mark.parametrize("field", ["role", "gym_id", "email"])
async def test_update_me_cannot_touch_protected_fields(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine, field: str
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    values = {"role": "admin", "gym_id": None, "email": "other@example.com"}
    response = await client.put("/users/me", headers=account.headers, json={field: values[field]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", field]
    async with admin_engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT role, email FROM identity.users WHERE id = :id"), {"id": account.id}
            )
        ).one()
    assert row.role == "client"
    assert row.email == account.email


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "POST",
            "/users",
            {"email": "x@example.com", "first_name": "A", "last_name": "B", "role": "client"},
        ),
        ("PUT", "/users/00000000-0000-0000-0000-000000000001/role", {"role": "trainer"}),
        ("POST", "/gyms", {"name": "Mine", "timezone": "UTC", "currency": "EUR"}),
        ("GET", "/users", None),
    ],
)
@pytest.mark.parametrize("role", [Role.client, Role.trainer])
async def test_non_admins_get_403_on_admin_endpoints(
    client: httpx.AsyncClient,
    container: Container,
    method: str,
    path: str,
    body: object,
    role: Role,
) -> None:
    account = await signed_in(client, container, role=role, gym_id=await make_gym(container))
    response = await client.request(method, path, headers=account.headers, json=body)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


async def test_gym_owner_sees_own_gym_users_only(
    client: httpx.AsyncClient, container: Container
) -> None:
    mine, theirs = await make_gym(container, "Mine"), await make_gym(container, "Theirs")
    owner = await signed_in(client, container, role=Role.gym_owner, gym_id=mine)
    member = await make_user(container, gym_id=mine)
    stranger = await make_user(container, gym_id=theirs)

    assert (await client.get(f"/users/{member.id}", headers=owner.headers)).status_code == 200
    hidden = await client.get(f"/users/{stranger.id}", headers=owner.headers)
    assert hidden.status_code == 404
    assert str(stranger.id) not in hidden.text

    listed = await client.get("/users", headers=owner.headers)
    assert listed.status_code == 200
    ids = {u["id"] for u in listed.json()["items"]}
    assert ids == {str(owner.id), str(member.id)}


async def test_client_sees_only_self(client: httpx.AsyncClient, container: Container) -> None:
    gym = await make_gym(container)
    me = await signed_in(client, container, gym_id=gym)
    neighbour = await make_user(container, gym_id=gym)
    assert (await client.get(f"/users/{me.id}", headers=me.headers)).status_code == 200
    assert (await client.get(f"/users/{neighbour.id}", headers=me.headers)).status_code == 404


async def test_list_users_filters_by_role_and_pages(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    admin = await signed_in(client, container, role=Role.admin)
    created = {str((await make_user(container, gym_id=gym)).id) for _ in range(5)}
    await make_user(container, role=Role.trainer, gym_id=gym)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"role": "client", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/users", headers=admin.headers, params=params)).json()
        seen += [u["id"] for u in page["items"]]
        assert all(u["role"] == "client" for u in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"cursor": "!!!"}, {"role": "king"}]
)
async def test_list_users_rejects_bad_paging(
    client: httpx.AsyncClient, container: Container, params: dict[str, object]
) -> None:
    admin = await signed_in(client, container, role=Role.admin)
    assert (await client.get("/users", headers=admin.headers, params=params)).status_code == 422


async def test_admin_creates_users_with_password_or_invitation(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    admin = await signed_in(client, container, role=Role.admin)
    with_password = await client.post(
        "/users",
        headers=admin.headers,
        json={
            "email": "t1@example.com",
            "first_name": "T",
            "last_name": "One",
            "role": "trainer",
            "gym_id": str(gym),
            "password": PASSWORD,
        },
    )
    assert with_password.status_code == 201
    assert with_password.json()["invitation_url"] is None
    invited = await client.post(
        "/users",
        headers=admin.headers,
        json={
            "email": "t2@example.com",
            "first_name": "T",
            "last_name": "Two",
            "role": "trainer",
            "gym_id": str(gym),
        },
    )
    assert invited.status_code == 201
    token = invited.json()["invitation_url"].rsplit("/", 1)[1]
    # No password yet: signing in fails until the invitation is accepted, once.
    assert (
        await client.post("/auth/login", json={"email": "t2@example.com", "password": PASSWORD})
    ).status_code == 401
    accepted = await client.post(
        "/auth/accept-invitation", json={"token": token, "password": PASSWORD}
    )
    assert accepted.status_code == 200
    assert (
        await client.post("/auth/login", json={"email": "t2@example.com", "password": PASSWORD})
    ).status_code == 200
    again = await client.post(
        "/auth/accept-invitation", json={"token": token, "password": "another-pass-123"}
    )
    assert again.status_code == 404


async def test_admin_cannot_put_a_gym_member_in_no_gym(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await signed_in(client, container, role=Role.admin)
    response = await client.post(
        "/users",
        headers=admin.headers,
        json={"email": "t@example.com", "first_name": "T", "last_name": "T", "role": "client"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "gym_id"]


async def test_role_change_applies_at_once_by_ending_sessions(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym = await make_gym(container)
    admin = await signed_in(client, container, role=Role.admin)
    member = await signed_in(client, container, gym_id=gym)
    response = await client.put(
        f"/users/{member.id}/role", headers=admin.headers, json={"role": "trainer"}
    )
    assert response.status_code == 200
    assert response.json()["role"] == "trainer"
    assert (await client.get("/users/me", headers=member.headers)).status_code == 401
    fresh = await login(client, member)
    assert (await client.get("/users/me", headers=fresh.headers)).json()["role"] == "trainer"


async def test_role_change_to_admin_is_refused_for_gym_members(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await signed_in(client, container, role=Role.admin)
    member = await make_user(container, gym_id=await make_gym(container))
    response = await client.put(
        f"/users/{member.id}/role", headers=admin.headers, json={"role": "admin"}
    )
    assert response.status_code == 422
