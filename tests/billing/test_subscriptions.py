"""Subscriptions: sign-up, lifecycle with dated history, renewals exactly once, dunning."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.billing import domain, tasks
from fitsync.billing.providers import BillingRuntime, ProviderUnavailable
from fitsync.bootstrap import Container
from fitsync.kernel import clock
from fitsync.kernel.db import transaction
from tests.billing.conftest import Shop, created, ledger_is_balanced, one, plan, post, sql
from tests.billing.fake_processor import FakeProcessor


async def subscribe(
    client: httpx.AsyncClient, shop: Shop, plan_id: str, **extra: Any
) -> dict[str, Any]:
    body = {"client_id": str(shop.client.id), "plan_id": plan_id, **extra}
    return await created(client, "/billing/subscriptions", shop.owner, body)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def test_manual_subscription_opens_an_invoice_paid_at_the_desk(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    monthly = await plan(client, shop, price=4900, signup_fee=1500)
    sub = await subscribe(client, shop, monthly["id"])
    assert sub["status"] == "active"
    assert [h["reason"] for h in sub["history"]] == ["created"]
    invoice = (
        await client.get(f"/billing/invoices/{sub['invoice_id']}", headers=shop.client.headers)
    ).json()
    assert invoice["status"] == "open"
    assert invoice["total"] == 6400
    assert (
        await one(
            admin_engine,
            "SELECT sum(amount) FROM billing.ledger_entries WHERE account = 'receivable'",
        )
        == 6400
    )
    paid = await post(
        client,
        f"/billing/invoices/{sub['invoice_id']}/payments",
        shop.trainer,
        {"method": "bank_transfer"},
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert (
        await one(
            admin_engine,
            "SELECT sum(amount) FROM billing.ledger_entries WHERE account = 'receivable'",
        )
        == 0
    )
    after = (
        await client.get(f"/billing/subscriptions/{sub['id']}", headers=shop.owner.headers)
    ).json()
    assert after["open_invoice_id"] is None
    assert after["next_retry_at"] is None


async def test_card_subscription_is_charged_and_a_decline_creates_nothing(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine, processor: FakeProcessor
) -> None:
    monthly = await plan(client, shop)
    sub = await subscribe(
        client, shop, monthly["id"], payment_method="card", card_token="pm_card_visa"
    )
    invoice = (
        await client.get(f"/billing/invoices/{sub['invoice_id']}", headers=shop.owner.headers)
    ).json()
    assert invoice["status"] == "paid"
    assert len(processor.succeeded) == 1
    declined = await post(
        client,
        "/billing/subscriptions",
        shop.owner,
        {
            "client_id": str(shop.other_client.id),
            "plan_id": monthly["id"],
            "payment_method": "card",
            "card_token": "pm_card_chargeDeclined",
        },
    )
    assert declined.status_code == 402
    assert await one(admin_engine, "SELECT count(*) FROM billing.subscriptions") == 1


async def test_client_subscribes_self_but_not_others(client: httpx.AsyncClient, shop: Shop) -> None:
    monthly = await plan(client, shop)
    mine = await post(
        client,
        "/billing/subscriptions",
        shop.client,
        {"client_id": str(shop.client.id), "plan_id": monthly["id"]},
    )
    assert mine.status_code == 201
    theirs = await post(
        client,
        "/billing/subscriptions",
        shop.client,
        {"client_id": str(shop.other_client.id), "plan_id": monthly["id"]},
    )
    assert theirs.status_code == 403
    assert (
        await client.get(
            f"/billing/subscriptions/{mine.json()['id']}", headers=shop.other_client.headers
        )
    ).status_code == 404
    listed = (await client.get("/billing/subscriptions", headers=shop.other_client.headers)).json()
    assert listed["items"] == []


async def test_pause_resume_with_extension_and_cancel_keep_a_dated_history(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    monthly = await plan(client, shop)
    sub = await subscribe(client, shop, monthly["id"], paid_with="cash")
    end = date.fromisoformat(sub["current_period_end"])
    paused = await post(client, f"/billing/subscriptions/{sub['id']}/pause", shop.owner, key=None)
    assert paused.json()["status"] == "paused"
    previous = clock.set_clock(clock.FrozenClock(clock.now() + timedelta(days=10)))
    try:
        resumed = await post(
            client,
            f"/billing/subscriptions/{sub['id']}/resume",
            shop.owner,
            {"extend_term": True},
            key=None,
        )
    finally:
        clock.set_clock(previous)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "active"
    assert date.fromisoformat(resumed.json()["current_period_end"]) == end + timedelta(days=10)
    client_cancel = await post(
        client,
        f"/billing/subscriptions/{sub['id']}/cancel",
        shop.client,
        {"at_period_end": True},
        key=None,
    )
    assert client_cancel.status_code == 200
    assert client_cancel.json()["cancel_at_period_end"] is True
    history = client_cancel.json()["history"]
    assert [(h["from_status"], h["to_status"], h["reason"]) for h in history] == [
        (None, "active", "created"),
        ("active", "paused", "paused"),
        ("paused", "active", "resumed"),
        ("active", "active", "cancel_scheduled"),
    ]
    assert all(h["at"] for h in history)
    events = await sql(
        admin_engine,
        "SELECT data->>'to_status' FROM kernel.outbox"
        " WHERE type = 'subscription.changed' ORDER BY seq",
    )
    assert [e for (e,) in events] == ["active", "paused", "active", "active"]


async def test_client_cannot_cancel_inside_the_minimum_term(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    yearly = await plan(client, shop, min_term_intervals=12)
    sub = await subscribe(client, shop, yearly["id"], paid_with="cash")
    response = await post(
        client,
        f"/billing/subscriptions/{sub['id']}/cancel",
        shop.client,
        {"at_period_end": False},
        key=None,
    )
    assert response.status_code == 409
    assert "min_term_end" in response.json()
    staff = await post(
        client,
        f"/billing/subscriptions/{sub['id']}/cancel",
        shop.owner,
        {"at_period_end": False},
        key=None,
    )
    assert staff.json()["status"] == "canceled"


async def test_upgrade_is_prorated_and_downgrade_waits_for_renewal(
    client: httpx.AsyncClient, shop: Shop, admin_engine: AsyncEngine
) -> None:
    basic = await plan(client, shop, price=3000, name="Basic")
    premium = await plan(client, shop, price=6000, name="Premium")
    sub = await subscribe(client, shop, basic["id"], paid_with="cash")
    start = date.fromisoformat(sub["current_period_start"])
    end = date.fromisoformat(sub["current_period_end"])
    days = (end - start).days
    previous = clock.set_clock(clock.FrozenClock(at(start) + timedelta(days=10)))
    try:
        up = await post(
            client,
            f"/billing/subscriptions/{sub['id']}/change-plan",
            shop.owner,
            {"plan_id": premium["id"]},
        )
    finally:
        clock.set_clock(previous)
    assert up.status_code == 200, up.text
    assert up.json()["plan_id"] == premium["id"]
    invoice = (
        await client.get(f"/billing/invoices/{up.json()['invoice_id']}", headers=shop.owner.headers)
    ).json()
    expected = domain.prorate(6000, used_days=10, period_days=days) - domain.prorate(
        3000, used_days=10, period_days=days
    )
    assert invoice["total"] == expected
    assert invoice["lines"][0]["kind"] == "proration"
    down = await post(
        client,
        f"/billing/subscriptions/{sub['id']}/change-plan",
        shop.owner,
        {"plan_id": basic["id"]},
    )
    assert down.json()["plan_id"] == premium["id"]
    assert down.json()["pending_plan_id"] == basic["id"]
    await ledger_is_balanced(admin_engine)


async def test_renewal_job_run_twice_concurrently_bills_each_period_once(
    client: httpx.AsyncClient,
    shop: Shop,
    container: Container,
    rt: BillingRuntime,
    admin_engine: AsyncEngine,
) -> None:
    monthly = await plan(client, shop)
    for _ in range(12):
        await subscribe(client, shop, monthly["id"], paid_with="cash")
    later = clock.now() + timedelta(days=95)  # three periods late
    reports = await asyncio.gather(
        tasks.run_renewals(container.sessionmaker, rt, now=later, batch=5),
        tasks.run_renewals(container.sessionmaker, rt, now=later, batch=5),
    )
    assert sum(r.renewed for r in reports) == 36
    assert await one(admin_engine, "SELECT count(*) FROM billing.renewals") == 36
    assert (
        await one(admin_engine, "SELECT count(*) FROM billing.invoices WHERE kind = 'renewal'")
        == 36
    )
    duplicates = await sql(
        admin_engine,
        "SELECT subscription_id, period_start FROM billing.renewals"
        " GROUP BY 1, 2 HAVING count(*) > 1",
    )
    assert duplicates == []
    again = await tasks.run_renewals(container.sessionmaker, rt, now=later)
    assert again.renewed == 0
    numbers = [
        n for (n,) in await sql(admin_engine, "SELECT number FROM billing.invoices ORDER BY 1")
    ]
    assert numbers == list(range(1, len(numbers) + 1))
    await ledger_is_balanced(admin_engine)


async def test_a_renewal_batch_that_crashes_is_redone_once(
    client: httpx.AsyncClient,
    shop: Shop,
    container: Container,
    rt: BillingRuntime,
    admin_engine: AsyncEngine,
) -> None:
    monthly = await plan(client, shop)
    await subscribe(client, shop, monthly["id"], paid_with="cash")
    later = clock.now() + timedelta(days=32)

    class Crash(Exception):
        pass

    async def crash_after_one_batch() -> None:
        async with transaction(container.sessionmaker, all_gyms=True) as session:
            report = tasks.JobReport()
            assert await tasks.renew_batch(session, rt, now=later, batch=10, report=report) == 1
            raise Crash

    with pytest.raises(Crash):
        await crash_after_one_batch()
    assert await one(admin_engine, "SELECT count(*) FROM billing.renewals") == 0
    report = await tasks.run_renewals(container.sessionmaker, rt, now=later)
    assert report.renewed == 1
    assert await one(admin_engine, "SELECT count(*) FROM billing.renewals") == 1


async def test_month_ends_leap_day_and_dst_follow_the_anchor(
    client: httpx.AsyncClient,
    shop: Shop,
    container: Container,
    rt: BillingRuntime,
    admin_engine: AsyncEngine,
) -> None:
    monthly = await plan(client, shop)
    sub = await subscribe(client, shop, monthly["id"], starts_on="2028-01-31", paid_with="cash")
    assert sub["current_period_end"] == "2028-02-29"
    await tasks.run_renewals(container.sessionmaker, rt, now=at(date(2028, 3, 1)))
    await tasks.run_renewals(container.sessionmaker, rt, now=at(date(2028, 4, 2)))
    starts = await sql(admin_engine, "SELECT period_start FROM billing.renewals ORDER BY 1")
    assert [s for (s,) in starts] == [date(2028, 2, 29), date(2028, 3, 31)]
    ends = await one(admin_engine, "SELECT period_end_at FROM billing.subscriptions")
    # Apr 30 2028, local midnight in Berlin (CEST, UTC+2)
    assert ends == datetime(2028, 4, 29, 22, tzinfo=UTC)


async def test_trial_ends_into_a_paid_period(
    client: httpx.AsyncClient, shop: Shop, container: Container, rt: BillingRuntime
) -> None:
    trial = await plan(client, shop, trial_days=14)
    sub = await subscribe(client, shop, trial["id"])
    assert sub["status"] == "trialing"
    assert sub["invoice_id"] is None
    await tasks.run_renewals(container.sessionmaker, rt, now=clock.now() + timedelta(days=15))
    after = (
        await client.get(f"/billing/subscriptions/{sub['id']}", headers=shop.owner.headers)
    ).json()
    assert after["status"] == "active"
    assert after["open_invoice_id"] is not None
    assert after["history"][-1]["reason"] == "trial_ended"


async def test_failed_card_renewal_goes_past_due_then_canceled_by_dunning(
    client: httpx.AsyncClient,
    shop: Shop,
    container: Container,
    rt: BillingRuntime,
    admin_engine: AsyncEngine,
) -> None:
    monthly = await plan(client, shop)
    sub = await subscribe(
        client, shop, monthly["id"], payment_method="card", card_token="pm_card_visa"
    )
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE billing.subscriptions SET card_token = 'pm_card_chargeDeclined'")
        )
    now = clock.now() + timedelta(days=32)
    report = await tasks.run_renewals(container.sessionmaker, rt, now=now)
    assert report.failed == 1
    state = (
        await client.get(f"/billing/subscriptions/{sub['id']}", headers=shop.owner.headers)
    ).json()
    assert state["status"] == "past_due"
    assert state["failed_attempts"] == 1
    # retries after 1, 3 and 7 more days, then cancellation
    for days in (1, 4, 11):
        await tasks.run_dunning(container.sessionmaker, rt, now=now + timedelta(days=days, hours=1))
    state = (
        await client.get(f"/billing/subscriptions/{sub['id']}", headers=shop.owner.headers)
    ).json()
    assert state["status"] == "canceled"
    assert state["history"][-1]["reason"] == "dunning_exhausted"
    failed = await sql(
        admin_engine,
        "SELECT data->>'attempt' FROM kernel.outbox WHERE type = 'payment.failed' ORDER BY seq",
    )
    assert [a for (a,) in failed] == ["1", "2", "3", "4"]
    statuses = await sql(admin_engine, "SELECT status FROM billing.invoices ORDER BY number")
    assert [s for (s,) in statuses] == ["paid", "void"]
    await ledger_is_balanced(admin_engine)
    assert (
        await one(
            admin_engine,
            "SELECT coalesce(sum(amount), 0) FROM billing.ledger_entries"
            " WHERE account = 'receivable'",
        )
        == 0
    )


async def test_past_due_subscription_paid_at_the_desk_becomes_active(
    client: httpx.AsyncClient,
    shop: Shop,
    container: Container,
    rt: BillingRuntime,
) -> None:
    monthly = await plan(client, shop)
    sub = await subscribe(client, shop, monthly["id"])  # open invoice, 7 grace days
    await tasks.run_dunning(container.sessionmaker, rt, now=clock.now() + timedelta(days=8))
    state = (
        await client.get(f"/billing/subscriptions/{sub['id']}", headers=shop.owner.headers)
    ).json()
    assert state["status"] == "past_due"
    paid = await post(
        client, f"/billing/invoices/{sub['invoice_id']}/payments", shop.owner, {"method": "cash"}
    )
    assert paid.status_code == 200
    state = (
        await client.get(f"/billing/subscriptions/{sub['id']}", headers=shop.owner.headers)
    ).json()
    assert state["status"] == "active"
    assert state["history"][-1]["reason"] == "paid"


async def test_cancel_at_period_end_is_carried_out_by_the_renewal_job(
    client: httpx.AsyncClient, shop: Shop, container: Container, rt: BillingRuntime
) -> None:
    monthly = await plan(client, shop)
    sub = await subscribe(client, shop, monthly["id"], paid_with="cash")
    await post(client, f"/billing/subscriptions/{sub['id']}/cancel", shop.owner, {}, key=None)
    report = await tasks.run_renewals(
        container.sessionmaker, rt, now=clock.now() + timedelta(days=40)
    )
    assert (report.renewed, report.canceled) == (0, 1)
    state = (
        await client.get(f"/billing/subscriptions/{sub['id']}", headers=shop.owner.headers)
    ).json()
    assert state["status"] == "canceled"


async def test_a_renewal_run_cut_off_after_the_charge_does_not_charge_twice(
    client: httpx.AsyncClient,
    shop: Shop,
    container: Container,
    rt: BillingRuntime,
    admin_engine: AsyncEngine,
    processor: FakeProcessor,
) -> None:
    monthly = await plan(client, shop)
    await subscribe(client, shop, monthly["id"], payment_method="card", card_token="pm_card_visa")
    later = clock.now() + timedelta(days=32)
    processor.drop_next = True
    with pytest.raises(ProviderUnavailable):
        await tasks.run_renewals(container.sessionmaker, rt, now=later)
    assert len(processor.succeeded) == 2  # sign-up + the renewal the job never heard of
    assert await one(admin_engine, "SELECT count(*) FROM billing.renewals") == 0
    report = await tasks.run_renewals(container.sessionmaker, rt, now=later)
    assert (report.renewed, report.charged) == (1, 1)
    assert len(processor.succeeded) == 2
    statuses = await sql(admin_engine, "SELECT status FROM billing.invoices ORDER BY number")
    assert [s for (s,) in statuses] == ["paid", "paid"]
    await ledger_is_balanced(admin_engine)
