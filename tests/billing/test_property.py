"""Random sequences of sales, discounts, refunds, sign-ups, payments and renewals,
through the HTTP API and the renewal job: the ledger always balances, the revenue
report equals the ledger, and the ledger agrees with the invoices and refunds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import anyio.from_thread
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.billing import tasks
from fitsync.billing.providers import BillingRuntime
from fitsync.bootstrap import Container
from fitsync.kernel import clock
from tests.billing.conftest import Shop, created, one, plan, post, product, sql

sale_op = st.tuples(
    st.just("sale"),
    st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=3),
    st.sampled_from([None, "TENOFF", "FIVE"]),
    st.sampled_from(["cash", "card_terminal", "bank_transfer", "card"]),
)
refund_op = st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 100))
subscribe_op = st.tuples(st.just("subscribe"), st.integers(0, 1), st.booleans())
pay_op = st.tuples(st.just("pay"), st.integers(0, 50))
renew_op = st.tuples(st.just("renew"), st.integers(1, 70))
operations = st.lists(
    st.one_of(sale_op, refund_op, subscribe_op, pay_op, renew_op), min_size=1, max_size=8
)


async def test_random_money_sequences_keep_the_books_straight(
    client: httpx.AsyncClient,
    shop: Shop,
    container: Container,
    rt: BillingRuntime,
    admin_engine: AsyncEngine,
) -> None:
    await client.put(
        "/billing/settings", json={"tax_mode": "exclusive"}, headers=shop.owner.headers
    )
    products = [
        await product(client, shop, price=price, tax_rate_bp=rate, stock=40)
        for price, rate in ((999, 1900), (250, 700), (4500, 0))
    ]
    plans = [
        await plan(client, shop, price=2990, tax_rate_bp=1900),
        await plan(client, shop, price=0),
    ]
    for code in (
        {"code": "TENOFF", "kind": "percent", "value": 1000},
        {"code": "FIVE", "kind": "amount", "value": 500},
    ):
        await created(client, "/billing/discount-codes", shop.owner, code)
    offset = {"days": 0}

    async def scenario(ops: list[tuple[Any, ...]]) -> None:
        for op in ops:
            await apply(op)
        await check()

    async def apply(op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "sale":
            _, lines, code, method = op
            body: dict[str, Any] = {
                "items": [{"product_id": products[i]["id"], "quantity": q} for i, q in lines],
                "payment": {"method": method, "card_token": "pm_card_visa"}
                if method == "card"
                else {"method": method},
                "client_id": str(shop.client.id),
            }
            if code:
                body["discount_code"] = code
            response = await post(client, "/billing/sales", shop.trainer, body)
            assert response.status_code in (201, 409), response.text
        elif kind == "refund":
            _, pick, percent = op
            paid = await sql(
                admin_engine,
                "SELECT id, amount_paid - amount_refunded FROM billing.invoices"
                " WHERE amount_paid > amount_refunded ORDER BY number",
            )
            if paid:
                invoice_id, left = paid[pick % len(paid)]
                amount = max(1, left * percent // 100)
                response = await post(
                    client,
                    f"/billing/invoices/{invoice_id}/refunds",
                    shop.owner,
                    {"amount": amount},
                )
                assert response.status_code == 201, response.text
        elif kind == "subscribe":
            _, which, paid_now = op
            body = {"client_id": str(shop.client.id), "plan_id": plans[which]["id"]}
            if paid_now:
                body["paid_with"] = "cash"
            response = await post(client, "/billing/subscriptions", shop.owner, body)
            assert response.status_code == 201, response.text
        elif kind == "pay":
            open_ = await sql(
                admin_engine,
                "SELECT id FROM billing.invoices WHERE status = 'open' ORDER BY number",
            )
            if open_:
                (invoice_id,) = open_[op[1] % len(open_)]
                response = await post(
                    client,
                    f"/billing/invoices/{invoice_id}/payments",
                    shop.trainer,
                    {"method": "cash"},
                )
                assert response.status_code == 200, response.text
        else:
            offset["days"] += op[1]
            await tasks.run_all(
                container.sessionmaker, rt, now=clock.now() + timedelta(days=offset["days"])
            )

    async def check() -> None:
        assert (
            await sql(
                admin_engine,
                "SELECT transaction_id FROM billing.ledger_entries"
                " GROUP BY 1 HAVING sum(amount) <> 0",
            )
            == []
        )
        today = clock.now().date()
        report = (
            await client.get(
                "/billing/reports/revenue",
                params={
                    "from": str(today - timedelta(days=2)),
                    "to": str(today + timedelta(days=3000)),
                },
                headers=shop.owner.headers,
            )
        ).json()
        ledger_net = await one(
            admin_engine,
            "SELECT coalesce(-sum(amount), 0) FROM billing.ledger_entries"
            " WHERE account IN ('revenue', 'discounts', 'refunds')",
        )
        assert report["total"] == ledger_net == sum(report["by_category"].values())
        invoiced = await one(
            admin_engine,
            "SELECT coalesce(sum(subtotal), 0) FROM billing.invoices WHERE status <> 'void'",
        )
        refunded = await one(
            admin_engine, "SELECT coalesce(sum(amount - tax), 0) FROM billing.refunds"
        )
        assert ledger_net == invoiced - refunded
        owed = await one(
            admin_engine,
            "SELECT coalesce(sum(total - amount_paid), 0) FROM billing.invoices"
            " WHERE status <> 'void'",
        )
        receivable = await one(
            admin_engine,
            "SELECT coalesce(sum(amount), 0) FROM billing.ledger_entries"
            " WHERE account = 'receivable'",
        )
        assert receivable == owed
        money = await one(
            admin_engine,
            "SELECT coalesce(sum(amount), 0) FROM billing.ledger_entries"
            " WHERE account IN ('cash', 'card_clearing', 'bank')",
        )
        taken = await one(
            admin_engine,
            "SELECT coalesce(sum(amount_paid - amount_refunded), 0) FROM billing.invoices",
        )
        assert money == taken
        assert await one(admin_engine, "SELECT min(stock) FROM billing.products") >= 0

    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ops=operations)
    def property_holds(ops: list[tuple[Any, ...]]) -> None:
        anyio.from_thread.run(scenario, ops)

    await anyio.to_thread.run_sync(property_holds)
    assert await one(admin_engine, "SELECT count(*) FROM billing.ledger_transactions") > 0
