"""Entitlements and booking fees, driven by scheduling's events through the real relay."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.billing import public as billing
from fitsync.bootstrap import Container
from fitsync.kernel import clock, outbox
from fitsync.kernel.db import transaction
from tests.billing.conftest import Shop, created, one, plan, post, sql


async def publish(container: Container, shop: Shop, event_type: str, data: dict[str, Any]) -> None:
    """What scheduling does: an event in its transaction, then the relay and our consumer."""
    async with transaction(container.sessionmaker, gym_id=shop.gym_id) as session:
        await outbox.add(session, outbox.Event(type=event_type, gym_id=shop.gym_id, data=data))
    await outbox.relay_once(container.sessionmaker, container.bus)
    for consumer in outbox.consumers():
        if consumer.name == "billing.entitlements":
            await outbox.consume_once(container.sessionmaker, container.bus, consumer)


def booking(shop: Shop, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "client_id": str(shop.client.id),
        "status": "confirmed",
        "starts_at": clock.now().isoformat(),
        **extra,
    }


async def may_book(container: Container, shop: Shop) -> billing.Entitlement:
    async with transaction(container.sessionmaker, gym_id=shop.gym_id) as session:
        return await billing.may_book(
            session, gym_id=shop.gym_id, client_id=shop.client.id, starts_at=clock.now()
        )


async def test_plan_allowance_is_used_once_per_booking_and_given_back_on_time(
    client: httpx.AsyncClient, shop: Shop, container: Container, admin_engine: AsyncEngine
) -> None:
    two = await plan(client, shop, class_allowance=2)
    await created(
        client,
        "/billing/subscriptions",
        shop.owner,
        {"client_id": str(shop.client.id), "plan_id": two["id"], "paid_with": "cash"},
    )
    first, second = booking(shop), booking(shop)
    await publish(container, shop, "booking.created", first)
    await publish(container, shop, "booking.created", first)  # a second event, same booking
    assert (await may_book(container, shop)).remaining == 1
    await publish(container, shop, "booking.created", second)
    refused = await may_book(container, shop)
    assert refused.allowed is False
    await publish(container, shop, "booking.cancelled", {**second, "late_cancel": False})
    assert (await may_book(container, shop)).remaining == 1
    assert await one(admin_engine, "SELECT count(*) FROM billing.entitlement_uses") == 2


async def test_credits_are_used_when_there_is_no_plan(
    client: httpx.AsyncClient, shop: Shop, container: Container, admin_engine: AsyncEngine
) -> None:
    pack = await created(
        client,
        "/billing/packs",
        shop.owner,
        {"name": "Drop-in", "sessions": 1, "drop_in": True, "price": 1500},
    )
    assert (await may_book(container, shop)).allowed is False
    await created(
        client,
        "/billing/sales",
        shop.trainer,
        {
            "items": [{"pack_id": pack["id"]}],
            "client_id": str(shop.client.id),
            "payment": {"method": "cash"},
        },
    )
    found = await may_book(container, shop)
    assert (found.allowed, found.source, found.credits) == (True, "credits", 1)
    await publish(container, shop, "booking.created", booking(shop))
    assert (await may_book(container, shop)).allowed is False
    assert await one(admin_engine, "SELECT used FROM billing.credit_grants") == 1


async def test_late_cancellation_charges_the_gyms_fee_once(
    client: httpx.AsyncClient, shop: Shop, container: Container, admin_engine: AsyncEngine
) -> None:
    response = await client.put(
        "/billing/settings", json={"late_cancel_fee": 800}, headers=shop.owner.headers
    )
    assert response.status_code == 200
    assert response.json()["late_cancel_fee"] == 800
    b = booking(shop, late_cancel=True, status="cancelled")
    await publish(container, shop, "booking.cancelled", b)
    await publish(container, shop, "booking.cancelled", {**b})  # redelivered as a new event
    fees = await sql(admin_engine, "SELECT total, status, kind FROM billing.invoices")
    assert fees == [(800, "open", "fee")]
    mine = (await client.get("/billing/invoices", headers=shop.client.headers)).json()
    assert mine["items"][0]["lines"][0]["description"] == "Late cancellation fee"
    summary = (await client.get("/billing/reports/summary", headers=shop.owner.headers)).json()
    assert summary["outstanding_by_client"] == {str(shop.client.id): 800}


async def test_entitlements_endpoint_for_staff_and_clients(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    mine = await client.get("/billing/entitlements", headers=shop.client.headers)
    assert mine.json()["allowed"] is False
    staff = await client.get(
        "/billing/entitlements",
        params={"client_id": str(shop.other_client.id)},
        headers=shop.trainer.headers,
    )
    assert staff.status_code == 200
    missing = await client.get(
        "/billing/entitlements",
        params={"client_id": str(uuid.uuid4())},
        headers=shop.trainer.headers,
    )
    assert missing.status_code == 404
    assert (await post(client, "/billing/plans", shop.trainer, {}, key=None)).status_code == 422
