"""Registration, sign-in, token rotation and sign-out through the HTTP API."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel import clock
from fitsync.kernel.auth import Role
from tests.factories import PASSWORD, login, make_gym, make_user, signed_in


async def test_register_creates_a_client_of_the_gym(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym_id = await make_gym(container)
    response = await client.post(
        "/auth/register",
        json={
            "email": "New.Member@Example.com",
            "password": PASSWORD,
            "first_name": "Nia",
            "last_name": "Member",
            "gym_id": str(gym_id),
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == "client"
    assert body["gym_id"] == str(gym_id)
    assert body["email"] == "new.member@example.com"
    assert "password" not in body
    assert "password_hash" not in body


async def test_register_without_gym_joins_the_only_gym(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym_id = await make_gym(container)
    response = await client.post(
        "/auth/register",
        json={
            "email": "solo@example.com",
            "password": PASSWORD,
            "first_name": "A",
            "last_name": "B",
        },
    )
    assert response.status_code == 201
    assert response.json()["gym_id"] == str(gym_id)


async def test_register_without_gym_among_several_asks_for_one(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_gym(container, "One")
    await make_gym(container, "Two")
    response = await client.post(
        "/auth/register",
        json={"email": "x@example.com", "password": PASSWORD, "first_name": "A", "last_name": "B"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "gym_id"]


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short1", "at least 10"), ("password123", "too common"), ("qwertyuiop", "too common")],
)
async def test_weak_password_is_refused(
    client: httpx.AsyncClient, container: Container, password: str, reason: str
) -> None:
    gym_id = await make_gym(container)
    response = await client.post(
        "/auth/register",
        json={
            "email": "w@example.com",
            "password": password,
            "first_name": "A",
            "last_name": "B",
            "gym_id": str(gym_id),
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]


async def test_register_rejects_mass_assigned_role(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym_id = await make_gym(container)
    response = await client.post(
        "/auth/register",
        json={
            "email": "sneaky@example.com",
            "password": PASSWORD,
            "first_name": "A",
            "last_name": "B",
            "gym_id": str(gym_id),
            "role": "admin",
        },
    )
    assert response.status_code == 422
    assert ["body", "role"] in [e["loc"] for e in response.json()["errors"]]


async def test_duplicate_email_is_a_conflict_whatever_the_case(
    client: httpx.AsyncClient, container: Container
) -> None:
    gym_id = await make_gym(container)
    body = {
        "email": "dup@example.com",
        "password": PASSWORD,
        "first_name": "A",
        "last_name": "B",
        "gym_id": str(gym_id),
    }
    assert (await client.post("/auth/register", json=body)).status_code == 201
    again = await client.post("/auth/register", json={**body, "email": "DUP@example.com"})
    assert again.status_code == 409
    assert again.json()["title"] == "Conflict"


async def test_concurrent_registrations_with_one_email_create_one_account(
    client: httpx.AsyncClient, container: Container, admin_engine: AsyncEngine
) -> None:
    gym_id = await make_gym(container)
    body = {
        "email": "race@example.com",
        "password": PASSWORD,
        "first_name": "A",
        "last_name": "B",
        "gym_id": str(gym_id),
    }
    responses = await asyncio.gather(*(client.post("/auth/register", json=body) for _ in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 19
    async with admin_engine.connect() as conn:
        users = await conn.scalar(
            text("SELECT count(*) FROM identity.users WHERE email = 'race@example.com'")
        )
        events = await conn.scalar(
            text("SELECT count(*) FROM kernel.outbox WHERE type = 'user.registered'")
        )
    assert (users, events) == (1, 1)


async def test_login_returns_a_token_pair(client: httpx.AsyncClient, container: Container) -> None:
    gym_id = await make_gym(container)
    account = await make_user(container, gym_id=gym_id)
    response = await client.post(
        "/auth/login", json={"email": account.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["user"]["id"] == str(account.id)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "fitsync"
    assert claims["aud"] == "fitsync-api"
    assert claims["role"] == "client"
    assert claims["gym_id"] == str(gym_id)
    assert claims["exp"] - claims["iat"] == 900


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await make_user(container, gym_id=await make_gym(container))
    wrong = await client.post(
        "/auth/login", json={"email": account.email, "password": "not-the-password"}
    )
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_repeated_failures_lock_the_account_with_retry_after(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await make_user(container, gym_id=await make_gym(container))
    for _ in range(5):
        bad = await client.post(
            "/auth/login", json={"email": account.email, "password": "wrong-password-x"}
        )
        assert bad.status_code == 401
    locked = await client.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 900
    other = await make_user(container, gym_id=account.gym_id)
    assert (
        await client.post("/auth/login", json={"email": other.email, "password": PASSWORD})
    ).status_code == 200


async def test_failures_from_one_address_are_throttled_across_accounts(
    client: httpx.AsyncClient, container: Container
) -> None:
    for i in range(30):
        r = await client.post(
            "/auth/login", json={"email": f"spray{i}@example.com", "password": "guess-guess-1"}
        )
        assert r.status_code == 401
    blocked = await client.post(
        "/auth/login", json={"email": "spray99@example.com", "password": "guess-guess-1"}
    )
    assert blocked.status_code == 429
    assert "address" in blocked.json()["detail"]


async def test_refresh_rotates_the_pair(client: httpx.AsyncClient, container: Container) -> None:
    account = await make_user(container, gym_id=await make_gym(container))
    first = (
        await client.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    ).json()
    second = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    me = await client.get("/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200


async def test_reused_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await make_user(container, gym_id=await make_gym(container))
    first = (
        await client.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    ).json()
    second = (
        await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()

    replay = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401

    # The thief's replay also ends the legitimate holder's newer tokens.
    newer = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert newer.status_code == 401
    for token in (first["access_token"], second["access_token"]):
        me = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401


async def test_concurrent_refreshes_with_one_token_yield_at_most_one_pair(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await make_user(container, gym_id=await make_gym(container))
    first = (
        await client.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    ).json()
    results = await asyncio.gather(
        *(
            client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
            for _ in range(10)
        )
    )
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) <= 1
    assert all(r.status_code in (200, 401) for r in results)
    if winners:  # the others were reuse: the family is gone, the winner's pair included
        again = await client.post(
            "/auth/refresh", json={"refresh_token": winners[0].json()["refresh_token"]}
        )
        assert again.status_code == 401


async def test_logout_kills_the_access_token_at_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    assert (await client.get("/users/me", headers=account.headers)).status_code == 200
    assert (await client.post("/auth/logout", headers=account.headers)).status_code == 204
    after = await client.get("/users/me", headers=account.headers)
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == "Bearer"


async def test_logout_ends_the_refresh_token_too(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await make_user(container, gym_id=await make_gym(container))
    pair = (
        await client.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    ).json()
    await client.post("/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert (
        await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).status_code == 401


def _forge(
    container: Container, claims: dict[str, object], key: str | None = None, alg: str = "HS256"
) -> str:
    return jwt.encode(claims, key or container.tokens.secret, algorithm=alg)


@pytest.mark.parametrize(
    "case", ["none", "other_key", "expired", "wrong_audience", "wrong_issuer", "garbage"]
)
async def test_bad_tokens_are_refused(
    client: httpx.AsyncClient, container: Container, case: str
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    claims = jwt.decode(account.token, options={"verify_signature": False})
    now = int(clock.now().timestamp())
    if case == "none":
        header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
        payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode()).decode()
        token = f"{header}.{payload}."
    elif case == "other_key":
        token = _forge(container, claims, key="another-secret-" + "y" * 40)
    elif case == "expired":
        token = _forge(container, {**claims, "iat": now - 3600, "exp": now - 60})
    elif case == "wrong_audience":
        token = _forge(container, {**claims, "aud": "someone-else"})
    elif case == "wrong_issuer":
        token = _forge(container, {**claims, "iss": "evil"})
    else:
        token = "not.a.jwt"
    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/users/me")).status_code == 401
    assert (
        await client.get("/users/me", headers={"Authorization": "Basic abc"})
    ).status_code == 401


async def test_user_ids_are_uuid_and_unknown_is_404(
    client: httpx.AsyncClient, container: Container
) -> None:
    admin = await signed_in(client, container, role=Role.admin)
    assert (await client.get(f"/users/{uuid.uuid4()}", headers=admin.headers)).status_code == 404
    assert (await client.get("/users/not-a-uuid", headers=admin.headers)).status_code == 422


async def test_login_with_refresh_and_access_for_same_user_in_parallel(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await make_user(container, gym_id=await make_gym(container))
    sessions = await asyncio.gather(*(login(client, account) for _ in range(5)))
    assert len({s.token for s in sessions}) == 5
    # Ending one session leaves the others alone.
    await client.post("/auth/logout", headers=sessions[0].headers)
    assert (await client.get("/users/me", headers=sessions[0].headers)).status_code == 401
    assert (await client.get("/users/me", headers=sessions[1].headers)).status_code == 200
