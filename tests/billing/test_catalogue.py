"""The catalogue, stock adjustments and billing settings through the HTTP API."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.bootstrap import Container
from fitsync.kernel.auth import Role
from tests.billing.conftest import Shop, created, one, plan, post, product, sql
from tests.factories import make_gym, signed_in


async def test_owner_creates_a_plan_members_read_it(client: httpx.AsyncClient, shop: Shop) -> None:
    monthly = await plan(client, shop, class_allowance=8, class_types=["yoga"])
    assert monthly["currency"] == "EUR"
    listed = (await client.get("/billing/plans", headers=shop.client.headers)).json()
    assert [p["id"] for p in listed["items"]] == [monthly["id"]]
    assert (
        await post(
            client,
            "/billing/plans",
            shop.trainer,
            {
                "name": "X",
                "interval": "month",
                "price": 1,
            },
            key=None,
        )
    ).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "interval": "fortnight", "price": 100},
        {"name": "X", "interval": "month", "price": -1},
        {"name": "X", "interval": "month", "price": 100, "currency": "EURO"},
        {"name": "", "interval": "month", "price": 100},
        {"name": "X", "interval": "month", "price": 100, "surprise": True},
    ],
)
async def test_bad_plans_are_422(
    client: httpx.AsyncClient, shop: Shop, body: dict[str, object]
) -> None:
    response = await post(client, "/billing/plans", shop.owner, body, key=None)
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_duplicate_sku_is_409(client: httpx.AsyncClient, shop: Shop) -> None:
    await product(client, shop, sku="BAR-1")
    again = await post(
        client,
        "/billing/products",
        shop.owner,
        {"name": "Bar", "sku": "BAR-1", "price": 100},
        key=None,
    )
    assert again.status_code == 409


async def test_stock_adjustments_never_go_below_zero_and_warn_when_low(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, stock=5, low_stock_threshold=2)
    path = f"/billing/products/{bar['id']}/stock-adjustments"
    shrink = await post(client, path, shop.owner, {"delta": -3, "reason": "shrinkage"}, key=None)
    assert shrink.status_code == 201
    assert shrink.json()["stock_after"] == 2
    too_far = await post(client, path, shop.owner, {"delta": -3, "reason": "damage"}, key=None)
    assert too_far.status_code == 409
    delivery = await post(client, path, shop.owner, {"delta": 10, "reason": "delivery"}, key=None)
    assert delivery.json()["stock_after"] == 12
    low = await sql(
        admin_engine, "SELECT data->>'stock' FROM kernel.outbox WHERE type = 'product.stock_low'"
    )
    assert low == [("2",)]
    moves = (
        await client.get(
            f"/billing/products/{bar['id']}/stock-movements", headers=shop.trainer.headers
        )
    ).json()
    assert [m["delta"] for m in moves["items"]] == [10, -3, 5]
    only_low = (
        await client.get("/billing/products?low_stock=true", headers=shop.owner.headers)
    ).json()
    assert only_low["items"] == []
    assert (
        await post(client, path, shop.trainer, {"delta": 1, "reason": "count"}, key=None)
    ).status_code == 403


async def test_products_are_staff_only_and_per_gym(
    client: httpx.AsyncClient, shop: Shop, container: Container
) -> None:
    bar = await product(client, shop)
    assert (await client.get("/billing/products", headers=shop.client.headers)).status_code == 403
    other_gym = await make_gym(container, "Other")
    stranger = await signed_in(client, container, role=Role.gym_owner, gym_id=other_gym)
    assert (
        await client.get(f"/billing/products/{bar['id']}", headers=stranger.headers)
    ).status_code == 404
    patched = await client.patch(
        f"/billing/products/{bar['id']}", json={"price": 2500}, headers=stranger.headers
    )
    assert patched.status_code == 404
    patched = await client.patch(
        f"/billing/products/{bar['id']}",
        json={"price": 2500, "stock": 99},
        headers=shop.owner.headers,
    )
    assert patched.status_code == 422  # stock only moves by adjustments


async def test_lists_page_by_cursor(client: httpx.AsyncClient, shop: Shop) -> None:
    for _ in range(5):
        await product(client, shop)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get("/billing/products", params=params, headers=shop.owner.headers)
        ).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


async def test_discount_code_rules(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, price=1000)
    await created(
        client,
        "/billing/discount-codes",
        shop.owner,
        {
            "code": "ONCE",
            "kind": "amount",
            "value": 300,
            "per_customer_limit": 1,
        },
    )
    await created(
        client,
        "/billing/discount-codes",
        shop.owner,
        {
            "code": "PLANSONLY",
            "kind": "percent",
            "value": 5000,
            "applies_to": ["plan"],
        },
    )
    sale = {"items": [{"product_id": bar["id"]}], "payment": {"method": "cash"}}
    anonymous = await post(
        client, "/billing/sales", shop.trainer, {**sale, "discount_code": "ONCE"}
    )
    assert anonymous.status_code == 422  # a per-customer limit needs a customer
    with_client = {**sale, "client_id": str(shop.client.id), "discount_code": "once"}
    assert (await created(client, "/billing/sales", shop.trainer, with_client))["total"] == 700
    assert (await post(client, "/billing/sales", shop.trainer, with_client)).status_code == 409
    other = {**with_client, "client_id": str(shop.other_client.id)}
    assert (await created(client, "/billing/sales", shop.trainer, other))["total"] == 700
    not_for_products = await created(
        client, "/billing/sales", shop.trainer, {**sale, "discount_code": "PLANSONLY"}
    )
    assert not_for_products["total"] == 1000
    unknown = await post(client, "/billing/sales", shop.trainer, {**sale, "discount_code": "NOPE"})
    assert unknown.status_code == 422
    assert (
        await one(
            admin_engine, "SELECT redemptions FROM billing.discount_codes WHERE code = 'ONCE'"
        )
        == 2
    )


async def test_billing_settings_are_the_owners(client: httpx.AsyncClient, shop: Shop) -> None:
    defaults = (await client.get("/billing/settings", headers=shop.trainer.headers)).json()
    assert defaults["tax_mode"] == "inclusive"
    assert defaults["dunning_retry_days"] == [1, 3, 7]
    assert (
        await client.put(
            "/billing/settings", json={"tax_mode": "exclusive"}, headers=shop.trainer.headers
        )
    ).status_code == 403
    changed = await client.put(
        "/billing/settings",
        json={"tax_mode": "exclusive", "dunning_retry_days": [2, 5]},
        headers=shop.owner.headers,
    )
    assert changed.json()["tax_mode"] == "exclusive"
    bar = await product(client, shop, price=1000, tax_rate_bp=1900)
    sale = await created(
        client,
        "/billing/sales",
        shop.trainer,
        {
            "items": [{"product_id": bar["id"]}],
            "payment": {"method": "cash"},
        },
    )
    assert (sale["total"], sale["tax"]) == (1190, 190)
    assert uuid.UUID(sale["invoice_id"])
