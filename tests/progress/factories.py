"""Arranging progress state through the HTTP API, and the test files."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.factories import Account

DATA = Path(__file__).parent.parent / "data" / "progress"


async def upload(
    client: httpx.AsyncClient,
    account: Account,
    data: bytes,
    name: str,
    *,
    path: str = "/progress/activities",
) -> httpx.Response:
    return await client.post(
        path, files={"file": (name, data, "application/octet-stream")}, headers=account.headers
    )


async def upload_file(client: httpx.AsyncClient, account: Account, relative: str) -> httpx.Response:
    path = DATA / relative
    return await upload(client, account, path.read_bytes(), path.name)
