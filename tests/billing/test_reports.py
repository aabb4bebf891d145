"""Reports equal the ledger."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.kernel import clock
from tests.billing.conftest import Shop, created, one, plan, post, product


async def test_revenue_report_is_the_sum_of_the_ledger(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    bar = await product(client, shop, price=1190, tax_rate_bp=1900)
    monthly = await plan(client, shop, price=5000)
    await created(
        client,
        "/billing/sales",
        shop.trainer,
        {
            "items": [{"product_id": bar["id"], "quantity": 3}],
            "payment": {"method": "cash"},
        },
    )
    sale = await created(
        client,
        "/billing/sales",
        shop.owner,
        {
            "items": [{"plan_id": monthly["id"]}],
            "client_id": str(shop.client.id),
            "payment": {"method": "card_terminal"},
        },
    )
    await post(
        client, f"/billing/invoices/{sale['invoice_id']}/refunds", shop.owner, {"amount": 1000}
    )
    today = clock.now().date().isoformat()
    report = (
        await client.get(
            "/billing/reports/revenue",
            params={"from": today, "to": today},
            headers=shop.owner.headers,
        )
    ).json()
    ledger_net = await one(
        admin_engine,
        "SELECT -sum(amount) FROM billing.ledger_entries"
        " WHERE account IN ('revenue', 'discounts', 'refunds')",
    )
    assert report["total"] == ledger_net == 3000 + 5000 - 1000
    assert report["by_category"] == {"retail": 3000, "membership": 4000}
    assert sum(d["total"] for d in report["by_day"]) == report["total"]
    assert list(report["by_month"].values()) == [report["total"]]
    check = (await client.get("/billing/reports/ledger-check", headers=shop.owner.headers)).json()
    assert check["unbalanced"] == 0
    assert check["sum"] == 0
    assert check["transactions"] == 5  # 2 invoices, 2 payments, 1 refund
    summary = (await client.get("/billing/reports/summary", headers=shop.owner.headers)).json()
    assert summary["mrr"] == 5000
    assert summary["members"] == {"active": 1}
    assert summary["stock_value"] == 7 * 1190


async def test_reports_are_for_the_owner(client: httpx.AsyncClient, shop: Shop) -> None:
    for who in (shop.trainer, shop.client):
        for path in ("/billing/reports/summary", "/billing/reports/ledger-check"):
            assert (await client.get(path, headers=who.headers)).status_code == 403
    bad = await client.get(
        "/billing/reports/revenue",
        params={"from": "2026-05-02", "to": "2026-05-01"},
        headers=shop.owner.headers,
    )
    assert bad.status_code == 422
