"""Problem details everywhere, body limits, health and the OpenAPI document."""

from __future__ import annotations

import httpx
import pytest

from fitsync.bootstrap import Container
from tests.factories import make_gym


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= set(response.json())


async def test_wrong_method_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.delete("/auth/login")
    assert response.status_code == 405
    assert response.json()["status"] == 405


async def test_malformed_json_is_422_with_location(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login",
        content=b'{"email": "a@b.c", "password": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["loc"][0] == "body"
    assert "JSON" in body["errors"][0]["msg"]


async def test_missing_fields_are_listed(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/register", json={"email": "a@example.com"})
    assert response.status_code == 422
    locs = {tuple(e["loc"]) for e in response.json()["errors"]}
    assert {("body", "password"), ("body", "first_name"), ("body", "last_name")} <= locs


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_body_is_413(client: httpx.AsyncClient, chunked: bool) -> None:
    payload = b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    if chunked:  # no Content-Length: the limit applies while streaming

        async def stream():  # type: ignore[no-untyped-def]
            for i in range(0, len(payload), 65536):
                yield payload[i : i + 65536]

        response = await client.post(
            "/auth/login", content=stream(), headers={"content-type": "application/json"}
        )
    else:
        response = await client.post(
            "/auth/login", content=payload, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_health_and_readiness(client: httpx.AsyncClient, container: Container) -> None:
    root = str(client.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
    assert (await client.get(f"{root}/healthz")).json() == {"status": "ok"}
    ready = await client.get(f"{root}/readyz")
    assert ready.status_code == 200
    assert ready.json()["stores"]["postgres"]["status"] == "ok"
    assert ready.json()["stores"]["redis"]["status"] == "ok"


async def test_openapi_describes_the_contract(
    client: httpx.AsyncClient, container: Container
) -> None:
    await make_gym(container)
    root = str(client.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
    spec = (await client.get(f"{root}/api/openapi.json")).json()
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/users/me",
        "/api/v1/users",
        "/api/v1/users/{user_id}/role",
        "/api/v1/gyms",
        "/api/v1/gyms/{gym_id}",
        "/api/v1/gyms/{gym_id}/staff",
    ):
        assert path in spec["paths"], path
    assert (await client.get(f"{root}/api/docs")).status_code == 200
