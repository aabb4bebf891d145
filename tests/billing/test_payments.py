"""Card payments against the local fake processor, webhooks, refunds, receipts."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.billing import tasks
from fitsync.billing.providers import BillingRuntime
from fitsync.bootstrap import Container
from fitsync.kernel import clock
from tests.billing.conftest import Shop, created, ledger_is_balanced, one, post, product, sql
from tests.billing.fake_processor import FakeProcessor


def card_sale(product_id: str, card: str = "pm_card_visa") -> dict[str, Any]:
    return {
        "items": [{"product_id": product_id}],
        "payment": {"method": "card", "card_token": card},
    }


async def send_webhook(client: httpx.AsyncClient, payload: bytes, signature: str) -> httpx.Response:
    return await client.post(
        "/billing/webhooks/card",
        content=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def test_crash_after_the_charge_is_reconciled_on_retry_without_a_second_charge(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine, processor: FakeProcessor
) -> None:
    bar = await product(client, shop, stock=5)
    key = str(uuid.uuid4())
    processor.drop_next = True  # the processor charges, but its answer never arrives
    first = await post(client, "/billing/sales", shop.trainer, card_sale(bar["id"]), key=key)
    assert first.status_code == 502
    assert len(processor.succeeded) == 1
    assert await one(admin_engine, "SELECT count(*) FROM billing.payments") == 0
    assert await one(admin_engine, "SELECT stock FROM billing.products") == 5
    retry = await post(client, "/billing/sales", shop.trainer, card_sale(bar["id"]), key=key)
    assert retry.status_code == 201, retry.text
    assert len(processor.succeeded) == 1  # the same PaymentIntent came back
    payment = await sql(admin_engine, "SELECT provider_ref, amount FROM billing.payments")
    assert payment == [(processor.succeeded[0]["id"], 1990)]
    assert await one(admin_engine, "SELECT stock FROM billing.products") == 4
    await ledger_is_balanced(admin_engine)


async def test_declined_card_is_402_and_sells_nothing(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, stock=5)
    response = await post(
        client, "/billing/sales", shop.trainer, card_sale(bar["id"], "pm_card_chargeDeclined")
    )
    assert response.status_code == 402
    assert response.json()["reason"] == "generic_decline"
    assert await one(admin_engine, "SELECT stock FROM billing.products") == 5
    assert await one(admin_engine, "SELECT count(*) FROM billing.invoices") == 0


async def test_webhooks_need_a_valid_signature(
    client: httpx.AsyncClient, shop: Shop, processor: FakeProcessor
) -> None:
    payload = processor.event(
        "payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"}
    )
    bad = await send_webhook(client, payload, processor.signature(payload, secret="whsec_wrong"))
    assert bad.status_code == 400
    stale = await send_webhook(
        client, payload, processor.signature(payload, at=int(time.time()) - 3600)
    )
    assert stale.status_code == 400
    tampered = await send_webhook(
        client, payload.replace(b"pi_x", b"pi_y"), processor.signature(payload)
    )
    assert tampered.status_code == 400
    good = await send_webhook(client, payload, processor.signature(payload))
    assert good.status_code == 200
    assert good.json() == {"received": True, "duplicate": False, "applied": False}


async def test_webhook_replay_and_reordering_never_undo_a_payment(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine, processor: FakeProcessor
) -> None:
    bar = await product(client, shop, stock=5)
    sale = await created(client, "/billing/sales", shop.trainer, card_sale(bar["id"]))
    intent = processor.succeeded[0]
    succeeded = processor.event("payment_intent.succeeded", intent)
    late_failure = processor.event(
        "payment_intent.payment_failed", {**intent, "status": "requires_payment_method"}
    )
    # the failure of an earlier attempt arrives after the success, and everything twice
    for payload in (late_failure, succeeded, late_failure, succeeded):
        response = await send_webhook(client, payload, processor.signature(payload))
        assert response.status_code == 200
    assert await one(admin_engine, "SELECT status FROM billing.payments") == "succeeded"
    assert await one(admin_engine, "SELECT count(*) FROM billing.webhook_events") == 2
    invoice = (
        await client.get(f"/billing/invoices/{sale['invoice_id']}", headers=shop.owner.headers)
    ).json()
    assert invoice["status"] == "paid"
    assert await one(admin_engine, "SELECT count(*) FROM billing.payments") == 1
    await ledger_is_balanced(admin_engine)


async def test_a_late_success_webhook_settles_a_failed_renewal_payment(
    client: httpx.AsyncClient,
    shop: Shop,
    admin_engine: AsyncEngine,
    processor: FakeProcessor,
    container: Container,
    rt: BillingRuntime,
) -> None:
    monthly = await created(
        client, "/billing/plans", shop.owner, {"name": "M", "interval": "month", "price": 3000}
    )
    sub = await created(
        client,
        "/billing/subscriptions",
        shop.owner,
        {
            "client_id": str(shop.client.id),
            "plan_id": monthly["id"],
            "payment_method": "card",
            "card_token": "pm_card_visa",
        },
    )
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE billing.subscriptions SET card_token = 'pm_card_chargeDeclined'")
        )
    await tasks.run_renewals(container.sessionmaker, rt, now=clock.now() + timedelta(days=32))
    failed_ref = await one(
        admin_engine, "SELECT provider_ref FROM billing.payments WHERE status = 'failed'"
    )
    intent = processor.intents[failed_ref]
    payload = processor.event("payment_intent.succeeded", {**intent, "status": "succeeded"})
    response = await send_webhook(client, payload, processor.signature(payload))
    assert response.json()["applied"] is True
    state = (
        await client.get(f"/billing/subscriptions/{sub['id']}", headers=shop.owner.headers)
    ).json()
    assert state["status"] == "active"
    assert state["open_invoice_id"] is None
    await ledger_is_balanced(admin_engine)


async def test_partial_then_full_refund_back_to_the_card_and_into_stock(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine, processor: FakeProcessor
) -> None:
    bar = await product(client, shop, stock=5, price=1000, tax_rate_bp=2000)
    sale = await created(
        client,
        "/billing/sales",
        shop.trainer,
        {
            "items": [{"product_id": bar["id"], "quantity": 2}],
            "payment": {"method": "card", "card_token": "pm_card_visa"},
        },
    )
    path = f"/billing/invoices/{sale['invoice_id']}/refunds"
    assert (await post(client, path, shop.trainer, {"amount": 500})).status_code == 403
    partial = await post(client, path, shop.owner, {"amount": 500})
    assert partial.status_code == 201, partial.text
    assert partial.json()["invoice_status"] == "paid"
    assert partial.json()["tax"] == 83  # 500 * 333 / 2000 = 83.25
    too_much = await post(client, path, shop.owner, {"amount": 1600})
    assert too_much.status_code == 409
    rest = await post(client, path, shop.owner, {"restock": True})
    assert rest.status_code == 201
    assert rest.json()["amount"] == 1500
    assert rest.json()["invoice_status"] == "refunded"
    assert sum(r["amount"] for r in processor.refunds.values()) == 2000
    assert await one(admin_engine, "SELECT stock FROM billing.products") == 5
    net = await one(
        admin_engine,
        "SELECT -sum(amount) FROM billing.ledger_entries"
        " WHERE account IN ('revenue', 'discounts', 'refunds')",
    )
    assert net == 0
    assert (
        await one(
            admin_engine,
            "SELECT sum(amount) FROM billing.ledger_entries WHERE account = 'tax_payable'",
        )
        == 0
    )
    await ledger_is_balanced(admin_engine)


async def test_refund_replay_with_the_same_key_refunds_once(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, stock=5, price=1000)
    sale = await created(
        client,
        "/billing/sales",
        shop.trainer,
        {"items": [{"product_id": bar["id"]}], "payment": {"method": "cash"}},
    )
    key = str(uuid.uuid4())
    path = f"/billing/invoices/{sale['invoice_id']}/refunds"
    one_ = await post(client, path, shop.owner, {"amount": 300}, key=key)
    two = await post(client, path, shop.owner, {"amount": 300}, key=key)
    assert one_.json() == two.json()
    assert await one(admin_engine, "SELECT count(*) FROM billing.refunds") == 1
    assert (
        await one(
            admin_engine, "SELECT sum(amount) FROM billing.ledger_entries WHERE account = 'cash'"
        )
        == 700
    )


async def test_invoice_pdf_is_a_pdf_for_its_client_only(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    bar = await product(client, shop, name="Shaker Größe L")
    sale = await created(
        client,
        "/billing/sales",
        shop.trainer,
        {
            "items": [{"product_id": bar["id"]}],
            "client_id": str(shop.client.id),
            "payment": {"method": "cash"},
        },
    )
    pdf = await client.get(
        f"/billing/invoices/{sale['invoice_id']}.pdf", headers=shop.client.headers
    )
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    other = await client.get(
        f"/billing/invoices/{sale['invoice_id']}.pdf", headers=shop.other_client.headers
    )
    assert other.status_code == 404
    mine = (await client.get("/billing/invoices", headers=shop.client.headers)).json()
    assert [i["id"] for i in mine["items"]] == [sale["invoice_id"]]
    assert json.loads(json.dumps(mine["items"][0]["lines"]))[0]["description"] == "Shaker Größe L"
