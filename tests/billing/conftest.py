"""Billing fixtures: a gym with staff and clients, and a local fake card processor."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.billing.providers import BillingRuntime, CardProvider, ManualProvider
from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from tests.billing.fake_processor import API_KEY, WEBHOOK_SECRET, FakeProcessor, serve
from tests.factories import Account, make_gym, signed_in


@pytest.fixture(scope="session")
def processor() -> Iterator[FakeProcessor]:
    fake = FakeProcessor()
    server = serve(fake)
    yield fake
    server.shutdown()


@pytest.fixture
async def rt(app: FastAPI, processor: FakeProcessor) -> AsyncIterator[BillingRuntime]:
    """Billing's providers, with the card adapter pointed at the fake processor."""
    processor.reset()
    runtime = BillingRuntime(
        providers={
            "manual": ManualProvider(),
            "card": CardProvider(
                api_url=processor.url, api_key=API_KEY, webhook_secret=WEBHOOK_SECRET
            ),
        }
    )
    container = app.state.container
    default, container.billing = container.billing, runtime
    yield runtime
    await runtime.close()
    container.billing = default


@dataclass(frozen=True)
class Shop:
    gym_id: uuid.UUID
    owner: Account
    trainer: Account
    client: Account
    other_client: Account


@pytest.fixture
async def shop(client: httpx.AsyncClient, container: Container, rt: BillingRuntime) -> Shop:
    gym_id = await make_gym(container, "Iron Temple")
    return Shop(
        gym_id=gym_id,
        owner=await signed_in(client, container, role=Role.gym_owner, gym_id=gym_id),
        trainer=await signed_in(client, container, role=Role.trainer, gym_id=gym_id),
        client=await signed_in(client, container, role=Role.client, gym_id=gym_id),
        other_client=await signed_in(client, container, role=Role.client, gym_id=gym_id),
    )


async def post(
    client: httpx.AsyncClient,
    path: str,
    who: Account,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = "auto",
) -> httpx.Response:
    """POST as ``who``; money-moving endpoints get a fresh Idempotency-Key unless given."""
    headers = dict(who.headers)
    if key == "auto":
        key = str(uuid.uuid4())
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(path, json=body or {}, headers=headers)


async def created(
    client: httpx.AsyncClient, path: str, who: Account, body: dict[str, Any]
) -> dict[str, Any]:
    response = await post(client, path, who, body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def product(
    client: httpx.AsyncClient, shop: Shop, *, stock: int = 10, price: int = 1990, **extra: Any
) -> dict[str, Any]:
    body = {
        "name": extra.pop("name", "Protein bar"),
        "sku": extra.pop("sku", f"SKU-{uuid.uuid4().hex[:8]}"),
        "price": price,
        "tax_rate_bp": extra.pop("tax_rate_bp", 1900),
        "stock": stock,
        **extra,
    }
    return await created(client, "/billing/products", shop.owner, body)


async def plan(
    client: httpx.AsyncClient, shop: Shop, *, price: int = 4900, **extra: Any
) -> dict[str, Any]:
    body = {"name": extra.pop("name", "Monthly"), "interval": "month", "price": price, **extra}
    return await created(client, "/billing/plans", shop.owner, body)


async def sql(engine: AsyncEngine, query: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(query), params)).all()


async def one(engine: AsyncEngine, query: str, **params: Any) -> Any:
    rows = await sql(engine, query, **params)
    assert len(rows) == 1, rows
    return rows[0][0]


async def ledger_is_balanced(engine: AsyncEngine) -> None:
    unbalanced = await sql(
        engine,
        "SELECT transaction_id, sum(amount) FROM billing.ledger_entries"
        " GROUP BY transaction_id HAVING sum(amount) <> 0",
    )
    assert unbalanced == []
