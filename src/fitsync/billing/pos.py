"""Point of sale: a cart of products, passes and memberships, paid at the desk.

One transaction does it all: stock is decremented (row-locked, never below zero),
the discount redeemed, the card (if any) charged, the invoice numbered and posted,
the payment posted. Any refusal rolls every part back.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import catalogue, domain, invoicing, subscriptions
from fitsync.billing.models import CreditGrant, Pack, Plan, Product
from fitsync.billing.providers import BillingRuntime, PaymentDeclined
from fitsync.billing.schemas import SaleIn, SaleOut
from fitsync.identity import public as identity
from fitsync.kernel import clock
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Invalid, NotFound


async def sell(
    session: AsyncSession,
    rt: BillingRuntime,
    *,
    principal: Principal,
    sale: SaleIn,
    provider_key: str,
) -> SaleOut:
    gym_id = catalogue.require_staff(principal)
    client_id = sale.client_id
    if client_id is not None:
        user = await identity.get_user(session, client_id)
        if user is None or user.gym_id != gym_id or user.role is not Role.client:
            raise NotFound("No such client")
    method = sale.payment.method
    if method == "card" and not sale.payment.card_token:
        raise Invalid("A card payment needs a card_token", loc=["body", "payment", "card_token"])
    now = clock.now()

    quantities: Counter[uuid.UUID] = Counter()
    for item in sale.items:
        if item.product_id is not None:
            quantities[item.product_id] += item.quantity
        elif client_id is None:
            raise Invalid(
                "Selling a membership or a pack needs a client_id", loc=["body", "client_id"]
            )
    products = (
        {
            p.id: p
            for p in await session.scalars(
                select(Product).where(Product.id.in_(list(quantities)), Product.gym_id == gym_id)
            )
        }
        if quantities
        else {}
    )
    plan_ids = [i.plan_id for i in sale.items if i.plan_id is not None]
    pack_ids = [i.pack_id for i in sale.items if i.pack_id is not None]
    plans = (
        {
            p.id: p
            for p in await session.scalars(
                select(Plan).where(Plan.id.in_(plan_ids), Plan.gym_id == gym_id)
            )
        }
        if plan_ids
        else {}
    )
    packs = (
        {
            p.id: p
            for p in await session.scalars(
                select(Pack).where(Pack.id.in_(pack_ids), Pack.gym_id == gym_id)
            )
        }
        if pack_ids
        else {}
    )
    items: list[domain.Item] = []
    for position, item in enumerate(sale.items):
        where: list[str | int] = ["body", "items", position]
        if item.product_id is not None:
            product = products.get(item.product_id)
            if product is None or not product.active:
                raise NotFound(f"No such product: {item.product_id}")
            items.append(
                domain.Item(
                    kind="product",
                    description=product.name,
                    unit_price=product.price,
                    quantity=item.quantity,
                    tax_rate_bp=product.tax_rate_bp,
                    currency=product.currency,
                    ref_id=product.id,
                )
            )
        elif item.plan_id is not None:
            plan = plans.get(item.plan_id)
            if plan is None or not plan.active:
                raise NotFound(f"No such plan: {item.plan_id}")
            if item.quantity != 1:
                raise Invalid("A membership is sold one at a time", loc=[*where, "quantity"])
            items += subscriptions.plan_items(plan, with_signup=True, with_period=True)
        else:
            assert item.pack_id is not None
            pack = packs.get(item.pack_id)
            if pack is None or not pack.active:
                raise NotFound(f"No such class pack: {item.pack_id}")
            items.append(
                domain.Item(
                    kind="pack",
                    description=pack.name,
                    unit_price=pack.price,
                    quantity=item.quantity,
                    tax_rate_bp=pack.tax_rate_bp,
                    currency=pack.currency,
                    ref_id=pack.id,
                )
            )
    currency = invoicing.single_currency(items)
    settings = await catalogue.get_settings(session, gym_id)
    code_row, rule = None, None
    if sale.discount_code:
        code_row, rule = await catalogue.redeem(
            session,
            gym_id=gym_id,
            code=sale.discount_code,
            client_id=client_id,
            currency=currency,
            at=now,
        )
    d = invoicing.draft(
        gym_id=gym_id,
        client_id=client_id,
        items=items,
        mode=domain.TaxMode(settings.tax_mode),
        kind="sale",
        at=now,
        rule=rule,
        discount_code=code_row.code if code_row else None,
    )
    invoice_id = d.invoice["id"]
    total = d.invoice["total"]
    provider_ref = None
    if total > 0 and method == "card":
        # The stock first: nobody is charged for an item that is not there.
        await _take_stock(session, gym_id, quantities, principal, invoice_id)
        result = await rt.provider("card").charge(
            amount=total,
            currency=currency,
            idempotency_key=provider_key,
            token=sale.payment.card_token,
            off_session=False,
            metadata={"gym_id": str(gym_id), "reference": provider_key},
        )
        if result.status != "succeeded":
            raise PaymentDeclined(
                f"The card was declined ({result.failure_reason})",
                reason=result.failure_reason,
                provider_ref=result.provider_ref,
            )
        provider_ref = result.provider_ref
    await invoicing.issue(session, d, number=False)
    payment_id = None
    if total > 0:
        payment_id = await invoicing.record_payment(
            session,
            invoice=d.invoice,
            amount=total,
            method=method,
            provider="card" if method == "card" else "manual",
            provider_ref=provider_ref,
            actor_id=principal.user_id,
            at=now,
        )
    if code_row is not None:
        await catalogue.record_redemption(
            session, code_row, client_id=client_id, invoice_id=invoice_id
        )
    sub_ids: list[uuid.UUID] = []
    grant_ids: list[uuid.UUID] = []
    if client_id is not None:
        gym = await catalogue.gym_of(session, gym_id)
        for item in sale.items:
            if item.plan_id is not None:
                sub = await subscriptions.start_paid(
                    session,
                    plan=plans[item.plan_id],
                    client_id=client_id,
                    timezone=gym.timezone,
                    actor_id=principal.user_id,
                    invoice_id=invoice_id,
                )
                sub_ids.append(sub.id)
            elif item.pack_id is not None:
                pack = packs[item.pack_id]
                for _ in range(item.quantity):
                    grant_id = uuid.uuid4()
                    await session.execute(
                        insert(CreditGrant).values(
                            id=grant_id,
                            gym_id=gym_id,
                            client_id=client_id,
                            pack_id=pack.id,
                            invoice_id=invoice_id,
                            sessions=pack.sessions,
                            used=0,
                            class_types=pack.class_types,
                            expires_at=now + timedelta(days=pack.validity_days)
                            if pack.validity_days
                            else None,
                            created_at=now,
                        )
                    )
                    grant_ids.append(grant_id)
    if not (total > 0 and method == "card"):
        await _take_stock(session, gym_id, quantities, principal, invoice_id)
    # Last, so that the gym's invoice counter is locked only until the commit.
    await invoicing.assign_numbers(session, [d])
    return SaleOut(
        id=invoice_id,
        invoice_id=invoice_id,
        number=d.invoice["number"],
        total=total,
        tax=d.invoice["tax"],
        currency=currency,
        payment_id=payment_id,
        subscription_ids=sub_ids,
        credit_grant_ids=grant_ids,
    )


async def _take_stock(
    session: AsyncSession,
    gym_id: uuid.UUID,
    quantities: Counter[uuid.UUID],
    principal: Principal,
    invoice_id: uuid.UUID,
) -> None:
    """Decrement stock in a fixed order, so that two carts never wait on each other in a
    cycle; a product without enough stock refuses the whole sale (409)."""
    for product_id in sorted(quantities, key=str):
        await catalogue.move_stock(
            session,
            gym_id=gym_id,
            product_id=product_id,
            delta=-quantities[product_id],
            reason="sale",
            actor_id=principal.user_id,
            invoice_id=invoice_id,
        )
