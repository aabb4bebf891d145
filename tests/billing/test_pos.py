"""Point of sale through the HTTP API: stock, invoices, idempotency, concurrency."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.billing.conftest import (
    Shop,
    created,
    ledger_is_balanced,
    one,
    plan,
    post,
    product,
    sql,
)


async def test_cash_sale_decrements_stock_and_posts_a_paid_invoice(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, stock=5, price=250, tax_rate_bp=700)
    response = await post(
        client,
        "/billing/sales",
        shop.trainer,
        {"items": [{"product_id": bar["id"], "quantity": 2}], "payment": {"method": "cash"}},
    )
    assert response.status_code == 201, response.text
    sale = response.json()
    assert sale["total"] == 500
    assert sale["currency"] == "EUR"
    assert sale["number"] == 1
    # tax-inclusive by default: 500 * 7/107 = 32.71 → 33
    assert sale["tax"] == 33
    invoice = (
        await client.get(f"/billing/invoices/{sale['invoice_id']}", headers=shop.owner.headers)
    ).json()
    assert invoice["status"] == "paid"
    assert invoice["subtotal"] + invoice["tax"] == invoice["total"] == 500
    assert invoice["lines"][0]["quantity"] == 2
    stock = (await client.get(f"/billing/products/{bar['id']}", headers=shop.owner.headers)).json()
    assert stock["stock"] == 3
    assert (
        await one(
            admin_engine,
            "SELECT sum(amount) FROM billing.ledger_entries WHERE account = 'cash'",
        )
        == 500
    )
    await ledger_is_balanced(admin_engine)
    events = await sql(admin_engine, "SELECT type, data->>'amount' FROM kernel.outbox")
    assert ("payment.succeeded", "500") in [tuple(e) for e in events]


async def test_not_enough_stock_is_409_and_changes_nothing(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, stock=1)
    water = await product(client, shop, stock=5, name="Water")
    response = await post(
        client,
        "/billing/sales",
        shop.trainer,
        {
            "items": [
                {"product_id": water["id"], "quantity": 1},
                {"product_id": bar["id"], "quantity": 2},
            ],
            "payment": {"method": "cash"},
        },
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert await one(admin_engine, "SELECT count(*) FROM billing.invoices") == 0
    assert (
        await one(admin_engine, "SELECT stock FROM billing.products WHERE sku = :s", s=water["sku"])
        == 5
    )
    assert await one(admin_engine, "SELECT count(*) FROM billing.invoice_counters") == 0


async def test_fifty_concurrent_sales_of_the_last_item_sell_it_once(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    last = await product(client, shop, stock=1, low_stock_threshold=0)
    body = {"items": [{"product_id": last["id"], "quantity": 1}], "payment": {"method": "cash"}}
    responses = await asyncio.gather(
        *(post(client, "/billing/sales", shop.trainer, body) for _ in range(50))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1, codes
    assert codes.count(409) == 49, codes
    assert await one(admin_engine, "SELECT stock FROM billing.products") == 0
    assert await one(admin_engine, "SELECT count(*) FROM billing.invoices") == 1
    assert (
        await one(
            admin_engine, "SELECT count(*) FROM billing.stock_movements WHERE reason = 'sale'"
        )
        == 1
    )
    await ledger_is_balanced(admin_engine)


async def test_invoice_numbers_stay_gapless_when_sales_fail(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    scarce = await product(client, shop, stock=3)
    plenty = await product(client, shop, stock=100)

    def sale(p: dict[str, object]) -> dict[str, object]:
        return {"items": [{"product_id": p["id"], "quantity": 1}], "payment": {"method": "cash"}}

    bodies = [sale(scarce) if i % 2 else sale(plenty) for i in range(20)]
    responses = await asyncio.gather(
        *(post(client, "/billing/sales", shop.trainer, b) for b in bodies)
    )
    ok = [r for r in responses if r.status_code == 201]
    assert len(ok) == 13  # 10 of plenty + 3 of scarce
    numbers = sorted(r.json()["number"] for r in ok)
    assert numbers == list(range(1, 14))
    stored = await sql(admin_engine, "SELECT number FROM billing.invoices ORDER BY number")
    assert [n for (n,) in stored] == numbers


async def test_same_key_and_body_replays_with_one_ledger_transaction(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, stock=10)
    body = {"items": [{"product_id": bar["id"]}], "payment": {"method": "card_terminal"}}
    key = str(uuid.uuid4())
    first = await post(client, "/billing/sales", shop.trainer, body, key=key)
    second = await post(client, "/billing/sales", shop.trainer, body, key=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert await one(admin_engine, "SELECT count(*) FROM billing.invoices") == 1
    assert (
        await one(
            admin_engine, "SELECT count(*) FROM billing.ledger_transactions WHERE kind = 'payment'"
        )
        == 1
    )
    assert await one(admin_engine, "SELECT stock FROM billing.products") == 9


async def test_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, stock=10)
    key = str(uuid.uuid4())
    body = {"items": [{"product_id": bar["id"]}], "payment": {"method": "cash"}}
    assert (await post(client, "/billing/sales", shop.trainer, body, key=key)).status_code == 201
    body["items"] = [{"product_id": bar["id"], "quantity": 3}]
    response = await post(client, "/billing/sales", shop.trainer, body, key=key)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await one(admin_engine, "SELECT stock FROM billing.products") == 9


async def test_twenty_concurrent_requests_with_one_key_charge_once(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine, processor: object
) -> None:
    bar = await product(client, shop, stock=100)
    body = {
        "items": [{"product_id": bar["id"]}],
        "payment": {"method": "card", "card_token": "pm_card_visa"},
    }
    key = str(uuid.uuid4())
    responses = await asyncio.gather(
        *(post(client, "/billing/sales", shop.trainer, body, key=key) for _ in range(20))
    )
    codes = [r.status_code for r in responses]
    assert set(codes) <= {201, 409}, codes
    assert codes.count(201) >= 1
    bodies = [r.json() for r in responses if r.status_code == 201]
    assert all(b == bodies[0] for b in bodies)  # every success is the same sale
    assert await one(admin_engine, "SELECT count(*) FROM billing.payments") == 1
    assert await one(admin_engine, "SELECT stock FROM billing.products") == 99
    assert len(processor.succeeded) == 1  # type: ignore[attr-defined]
    # once finished, the key replays
    again = await post(client, "/billing/sales", shop.trainer, body, key=key)
    assert again.status_code == 201
    assert again.json() == bodies[0]


async def test_money_moving_post_without_key_is_422(client: httpx.AsyncClient, shop: Shop) -> None:
    bar = await product(client, shop)
    response = await post(
        client,
        "/billing/sales",
        shop.trainer,
        {"items": [{"product_id": bar["id"]}], "payment": {"method": "cash"}},
        key=None,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_mixed_currencies_in_one_sale_are_422(client: httpx.AsyncClient, shop: Shop) -> None:
    eur = await product(client, shop)
    usd = await product(client, shop, currency="USD")
    response = await post(
        client,
        "/billing/sales",
        shop.trainer,
        {
            "items": [{"product_id": eur["id"]}, {"product_id": usd["id"]}],
            "payment": {"method": "cash"},
        },
    )
    assert response.status_code == 422


async def test_discount_code_is_spread_over_lines_and_limited(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    a = await product(client, shop, price=1000, stock=10, tax_rate_bp=0)
    b = await product(client, shop, price=500, stock=10, tax_rate_bp=0)
    await created(
        client,
        "/billing/discount-codes",
        shop.owner,
        {"code": "summer10", "kind": "percent", "value": 1000, "max_redemptions": 1},
    )
    body = {
        "items": [{"product_id": a["id"]}, {"product_id": b["id"]}],
        "payment": {"method": "cash"},
        "discount_code": "SUMMER10",
    }
    sale = await created(client, "/billing/sales", shop.trainer, body)
    assert sale["total"] == 1350
    invoice = (
        await client.get(f"/billing/invoices/{sale['invoice_id']}", headers=shop.owner.headers)
    ).json()
    assert [ln["discount"] for ln in invoice["lines"]] == [100, 50]
    assert invoice["discount"] == 150
    again = await post(client, "/billing/sales", shop.trainer, body)
    assert again.status_code == 409  # used up
    revenue = await one(
        admin_engine,
        "SELECT -sum(amount) FROM billing.ledger_entries WHERE account IN ('revenue', 'discounts')",
    )
    assert revenue == 1350


async def test_selling_a_pack_and_a_membership_gives_credits_and_a_subscription(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    pack = await created(
        client, "/billing/packs", shop.owner, {"name": "10 classes", "sessions": 10, "price": 9900}
    )
    monthly = await plan(client, shop)
    sale = await created(
        client,
        "/billing/sales",
        shop.owner,
        {
            "items": [{"pack_id": pack["id"]}, {"plan_id": monthly["id"]}],
            "client_id": str(shop.client.id),
            "payment": {"method": "card_terminal"},
        },
    )
    assert sale["total"] == 9900 + 4900
    assert len(sale["credit_grant_ids"]) == 1
    (sub_id,) = sale["subscription_ids"]
    sub = (await client.get(f"/billing/subscriptions/{sub_id}", headers=shop.client.headers)).json()
    assert sub["status"] == "active"
    ent = (await client.get("/billing/entitlements", headers=shop.client.headers)).json()
    assert ent == {
        "allowed": True,
        "source": "subscription",
        "reason": "unlimited plan",
        "subscription_id": sub_id,
        "remaining": None,
        "credits": 10,
    }


async def test_clients_cannot_sell_and_other_gyms_cannot_see(
    client: httpx.AsyncClient, shop: Shop, container: object
) -> None:
    from fitsync.kernel.auth import Role
    from tests.factories import make_gym, signed_in

    bar = await product(client, shop)
    body = {"items": [{"product_id": bar["id"]}], "payment": {"method": "cash"}}
    assert (await post(client, "/billing/sales", shop.client, body)).status_code == 403
    sale = await created(client, "/billing/sales", shop.trainer, body)
    other_gym = await make_gym(container, "Elsewhere")  # type: ignore[arg-type]
    stranger = await signed_in(client, container, role=Role.gym_owner, gym_id=other_gym)  # type: ignore[arg-type]
    for path in (f"/billing/invoices/{sale['invoice_id']}", f"/billing/products/{bar['id']}"):
        assert (await client.get(path, headers=stranger.headers)).status_code == 404
    listed = await client.get("/billing/invoices", headers=stranger.headers)
    assert listed.json()["items"] == []
    # a walk-in sale is not the client's
    assert (
        await client.get(f"/billing/invoices/{sale['invoice_id']}", headers=shop.client.headers)
    ).status_code == 404
