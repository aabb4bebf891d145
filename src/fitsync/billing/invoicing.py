"""Invoices, payments against them, refunds and voids — each with its ledger posting.

Invoice numbers are gapless per gym: the number comes from the gym's row in
``billing.invoice_counters``, incremented inside the issuing transaction. The row
stays locked until that transaction ends, so a rolled-back sale returns its number
and the next sale takes it. That lock serialises a gym's invoicing, so invoices are
written unnumbered and numbered by the transaction's last statement
(:func:`assign_numbers`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import domain, events, ledger
from fitsync.billing.models import (
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
    Subscription,
    SubscriptionHistory,
)
from fitsync.kernel import clock, outbox
from fitsync.kernel.errors import Conflict, Invalid

_NUMBER = text(
    "WITH c AS ("
    " INSERT INTO billing.invoice_counters AS c (gym_id, last_number) VALUES (:gym, :n)"
    " ON CONFLICT (gym_id) DO UPDATE SET last_number = c.last_number + :n"
    " RETURNING last_number),"
    " ids AS (SELECT id, ord FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS t(id, ord))"
    " UPDATE billing.invoices AS i SET number = c.last_number - :n + ids.ord"
    " FROM c, ids WHERE i.id = ids.id RETURNING i.id, i.number"
)


async def assign_numbers(session: AsyncSession, drafts: Sequence[Draft]) -> None:
    """Number inserted invoices, consecutively per gym, in one statement per gym.

    Call it last in the transaction: the gym's counter row stays locked until commit.
    """
    by_gym: dict[uuid.UUID, list[Draft]] = {}
    for d in drafts:
        by_gym.setdefault(d.invoice["gym_id"], []).append(d)
    for gym_id, group in sorted(by_gym.items(), key=lambda kv: str(kv[0])):
        rows = await session.execute(
            _NUMBER, {"gym": gym_id, "n": len(group), "ids": [d.invoice["id"] for d in group]}
        )
        numbers = {row.id: row.number for row in rows}
        for d in group:
            d.invoice["number"] = numbers[d.invoice["id"]]


@dataclass(frozen=True)
class Draft:
    """An invoice ready to insert: its row, its lines and its ledger posting."""

    invoice: dict[str, Any]
    lines: list[dict[str, Any]]
    posting: ledger.Posting


def single_currency(items: Sequence[domain.Item]) -> str:
    currencies = {item.currency for item in items}
    if len(currencies) != 1:
        raise Invalid(
            f"An invoice is in one currency; these items are in {', '.join(sorted(currencies))}",
            loc=["body", "items"],
        )
    return currencies.pop()


def draft(
    *,
    gym_id: uuid.UUID,
    client_id: uuid.UUID | None,
    items: Sequence[domain.Item],
    mode: domain.TaxMode,
    kind: str,
    at: datetime,
    rule: domain.DiscountRule | None = None,
    discount_code: str | None = None,
    subscription_id: uuid.UUID | None = None,
    external_ref: str | None = None,
    due_at: datetime | None = None,
) -> Draft:
    """Price ``items`` into an open invoice (number to be set) and its issue posting."""
    currency = single_currency(items)
    priced = domain.price_lines(items, mode, rule)
    invoice_id = uuid.uuid4()
    lines = [
        {
            "id": uuid.uuid4(),
            "gym_id": gym_id,
            "invoice_id": invoice_id,
            "position": position,
            "kind": p.item.kind,
            "ref_id": p.item.ref_id,
            "category": p.item.category,
            "description": p.item.description[:300],
            "quantity": p.item.quantity,
            "unit_price": p.item.unit_price,
            "discount": p.amounts.discount,
            "net": p.amounts.net,
            "tax_rate_bp": p.item.tax_rate_bp,
            "tax": p.amounts.tax,
            "total": p.amounts.total,
        }
        for position, p in enumerate(priced)
    ]
    subtotal = sum(p.amounts.net for p in priced)
    tax = sum(p.amounts.tax for p in priced)
    total = subtotal + tax
    invoice = {
        "id": invoice_id,
        "gym_id": gym_id,
        "number": None,
        "client_id": client_id,
        "subscription_id": subscription_id,
        "kind": kind,
        "external_ref": external_ref,
        "status": "open" if total > 0 else "paid",
        "currency": currency,
        "tax_mode": mode.value,
        "subtotal": subtotal,
        "discount": sum(p.amounts.discount for p in priced),
        "tax": tax,
        "total": total,
        "amount_paid": 0,
        "amount_refunded": 0,
        "discount_code": discount_code,
        "issued_at": at,
        "due_at": due_at,
        "paid_at": at if total == 0 else None,
        "created_at": at,
    }
    shares = [
        ledger.LineShare(
            category=p.item.category,
            net=p.amounts.net,
            discount=p.amounts.discount,
            tax=p.amounts.tax,
        )
        for p in priced
    ]
    posting = ledger.Posting(
        gym_id=gym_id,
        kind="invoice",
        currency=currency,
        legs=ledger.issue_legs(client_id, total, shares),
        occurred_at=at,
        invoice_id=invoice_id,
    )
    return Draft(invoice=invoice, lines=lines, posting=posting)


async def insert_drafts(session: AsyncSession, drafts: Sequence[Draft]) -> None:
    """Write invoices (not numbered yet), their lines and their postings."""
    if not drafts:
        return
    await session.execute(
        insert(Invoice).execution_options(render_nulls=True), [d.invoice for d in drafts]
    )
    await session.execute(
        insert(InvoiceLine).execution_options(render_nulls=True),
        [line for d in drafts for line in d.lines],
    )
    await ledger.post_many(session, [d.posting for d in drafts])


async def issue(session: AsyncSession, d: Draft, *, number: bool = True) -> Draft:
    """Write the invoice; with ``number``, number it at once (else: assign_numbers later)."""
    await insert_drafts(session, [d])
    if number:
        await assign_numbers(session, [d])
    return d


async def lock_invoice(session: AsyncSession, invoice_id: uuid.UUID) -> Invoice | None:
    return await session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def record_payment(
    session: AsyncSession,
    *,
    invoice: dict[str, Any] | Invoice,
    amount: int,
    method: str,
    provider: str,
    provider_ref: str | None,
    actor_id: uuid.UUID | None,
    at: datetime | None = None,
    existing_payment_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A payment succeeded: write it, post it, mark the invoice, tell the others."""
    inv = invoice_dict(invoice)
    at = at or clock.now()
    due = inv["total"] - inv["amount_paid"]
    if amount <= 0 or amount > due:
        raise Conflict(f"This invoice has {due} left to pay", outstanding=due)
    payment_id = existing_payment_id or uuid.uuid4()
    if existing_payment_id is not None:
        await session.execute(
            update(Payment)
            .where(Payment.id == existing_payment_id)
            .values(status="succeeded", updated_at=at, failure_reason=None)
        )
    else:
        await session.execute(
            insert(Payment).values(
                id=payment_id,
                gym_id=inv["gym_id"],
                invoice_id=inv["id"],
                client_id=inv["client_id"],
                provider=provider,
                method=method,
                amount=amount,
                currency=inv["currency"],
                status="succeeded",
                provider_ref=provider_ref,
                created_at=at,
                updated_at=at,
            )
        )
    await ledger.post(
        session,
        ledger.Posting(
            gym_id=inv["gym_id"],
            kind="payment",
            currency=inv["currency"],
            legs=ledger.payment_legs(inv["client_id"], amount, method),
            occurred_at=at,
            invoice_id=inv["id"],
            payment_id=payment_id,
        ),
    )
    paid_in_full = amount == due
    table = cast(Table, Invoice.__table__)
    await session.execute(
        update(table)
        .where(table.c.id == inv["id"])
        .values(
            amount_paid=table.c.amount_paid + amount,
            status="paid" if paid_in_full else table.c.status,
            paid_at=at if paid_in_full else table.c.paid_at,
        )
    )
    await outbox.add(
        session,
        outbox.Event(
            type=events.PAYMENT_SUCCEEDED,
            gym_id=inv["gym_id"],
            actor_id=actor_id,
            occurred_at=at,
            data={
                "payment_id": str(payment_id),
                "invoice_id": str(inv["id"]),
                "client_id": str(inv["client_id"]) if inv["client_id"] else None,
                "amount": amount,
                "currency": inv["currency"],
                "method": method,
                "provider": provider,
            },
        ),
    )
    if paid_in_full and inv["subscription_id"]:
        await _settle_subscription(session, inv, actor_id=actor_id, at=at)
    return payment_id


async def _settle_subscription(
    session: AsyncSession, inv: dict[str, Any], *, actor_id: uuid.UUID | None, at: datetime
) -> None:
    """The open invoice of a subscription got paid: dunning stops, past_due → active."""
    sub = await session.scalar(
        select(Subscription)
        .where(Subscription.id == inv["subscription_id"])
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if sub is None or sub.open_invoice_id != inv["id"]:
        return
    sub.open_invoice_id = None
    sub.next_retry_at = None
    sub.failed_attempts = 0
    sub.updated_at = at
    if sub.status == domain.Status.past_due:
        await change_status(
            session, sub, domain.Status.active, reason="paid", actor_id=actor_id, at=at
        )
    await session.flush()


async def change_status(
    session: AsyncSession,
    sub: Subscription,
    target: domain.Status,
    *,
    reason: str,
    actor_id: uuid.UUID | None,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    """Move a subscription to ``target``: dated history row and a ``subscription.changed``."""
    current = domain.Status(sub.status)
    if not domain.can_move(current, target):
        raise Conflict(f"A {current.value} subscription cannot become {target.value}")
    sub.status = target.value
    sub.updated_at = at
    if target is domain.Status.canceled:
        sub.canceled_at = at
        sub.next_retry_at = None
    await record_change(
        session, sub, current, target, reason=reason, actor_id=actor_id, at=at, data=data
    )


async def record_change(
    session: AsyncSession,
    sub: Subscription,
    current: domain.Status | None,
    target: domain.Status,
    *,
    reason: str,
    actor_id: uuid.UUID | None,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        SubscriptionHistory(
            gym_id=sub.gym_id,
            subscription_id=sub.id,
            from_status=current.value if current else None,
            to_status=target.value,
            reason=reason,
            actor_id=actor_id,
            at=at,
            data=data or {},
        )
    )
    await outbox.add(
        session,
        outbox.Event(
            type=events.SUBSCRIPTION_CHANGED,
            gym_id=sub.gym_id,
            actor_id=actor_id,
            occurred_at=at,
            data={
                "subscription_id": str(sub.id),
                "client_id": str(sub.client_id),
                "plan_id": str(sub.plan_id),
                "from_status": current.value if current else None,
                "to_status": target.value,
                "reason": reason,
                "current_period_end": sub.current_period_end.isoformat(),
                **(data or {}),
            },
        ),
    )


async def payment_failed(
    session: AsyncSession,
    *,
    invoice: dict[str, Any] | Invoice,
    method: str,
    provider: str,
    provider_ref: str | None,
    reason: str,
    attempt: int,
    next_retry_at: datetime | None,
    at: datetime,
) -> None:
    """Record a failed attempt (no ledger: no money moved) and emit ``payment.failed``."""
    inv = invoice_dict(invoice)
    amount = inv["total"] - inv["amount_paid"]
    if provider_ref is not None or provider != "manual":
        await session.execute(
            insert(Payment).values(
                gym_id=inv["gym_id"],
                invoice_id=inv["id"],
                client_id=inv["client_id"],
                provider=provider,
                method=method,
                amount=amount,
                currency=inv["currency"],
                status="failed",
                provider_ref=provider_ref,
                failure_reason=reason[:300],
                created_at=at,
                updated_at=at,
            )
        )
    await outbox.add(
        session,
        outbox.Event(
            type=events.PAYMENT_FAILED,
            gym_id=inv["gym_id"],
            occurred_at=at,
            data={
                "invoice_id": str(inv["id"]),
                "subscription_id": str(inv["subscription_id"]) if inv["subscription_id"] else None,
                "client_id": str(inv["client_id"]) if inv["client_id"] else None,
                "amount": amount,
                "currency": inv["currency"],
                "attempt": attempt,
                "reason": reason,
                "next_retry_at": next_retry_at.isoformat() if next_retry_at else None,
            },
        ),
    )


async def void(session: AsyncSession, invoice: Invoice, *, at: datetime) -> None:
    """Cancel an unpaid invoice: its issue posting is reversed by a new transaction."""
    if invoice.status != "open" or invoice.amount_paid:
        raise Conflict("Only an open, unpaid invoice can be voided")
    lines = (
        await session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    ).all()
    shares = [ledger.LineShare(ln.category, ln.net, ln.discount, ln.tax) for ln in lines]
    await ledger.post(
        session,
        ledger.Posting(
            gym_id=invoice.gym_id,
            kind="void",
            currency=invoice.currency,
            legs=ledger.reverse(ledger.issue_legs(invoice.client_id, invoice.total, shares)),
            occurred_at=at,
            invoice_id=invoice.id,
        ),
    )
    invoice.status = "void"
    invoice.voided_at = at


async def refund(
    session: AsyncSession,
    *,
    invoice: Invoice,
    amount: int,
    provider_refund: Any,
    actor_id: uuid.UUID | None,
    at: datetime,
) -> Refund:
    """Give back ``amount`` of what was paid on ``invoice`` (already locked).

    The money goes back the way it came (the invoice's latest succeeded payment);
    tax is refunded in proportion (rounded half away from zero) and the rest is
    split over the invoice's categories by their net amounts.
    """
    refundable = invoice.amount_paid - invoice.amount_refunded
    if amount <= 0 or amount > refundable:
        raise Conflict(
            f"At most {refundable} can be refunded on this invoice", refundable=refundable
        )
    payment = await session.scalar(
        select(Payment)
        .where(Payment.invoice_id == invoice.id, Payment.status == "succeeded")
        .order_by(Payment.created_at.desc())
        .limit(1)
    )
    assert payment is not None
    lines = (
        await session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.position)
        )
    ).all()
    tax = domain.split_refund_tax(amount, total=invoice.total, tax=invoice.tax)
    categories = list(dict.fromkeys(ln.category for ln in lines))
    weights = [sum(ln.net for ln in lines if ln.category == c) for c in categories]
    parts = domain.allocate(amount - tax, weights) if sum(weights) else [amount - tax]
    by_category = dict(zip(categories or ["other"], parts, strict=False))
    provider_ref = await provider_refund(payment, amount)
    row = Refund(
        gym_id=invoice.gym_id,
        invoice_id=invoice.id,
        payment_id=payment.id,
        amount=amount,
        tax=tax,
        provider_ref=provider_ref,
        actor_id=actor_id,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    await ledger.post(
        session,
        ledger.Posting(
            gym_id=invoice.gym_id,
            kind="refund",
            currency=invoice.currency,
            legs=ledger.refund_legs(payment.method, amount, tax, by_category),
            occurred_at=at,
            invoice_id=invoice.id,
            payment_id=payment.id,
        ),
    )
    invoice.amount_refunded += amount
    if invoice.amount_refunded == invoice.amount_paid == invoice.total:
        invoice.status = "refunded"
        payment.status = "refunded"
        payment.updated_at = at
    return row


def invoice_dict(invoice: dict[str, Any] | Invoice) -> dict[str, Any]:
    if isinstance(invoice, dict):
        return invoice
    return {
        "id": invoice.id,
        "gym_id": invoice.gym_id,
        "client_id": invoice.client_id,
        "subscription_id": invoice.subscription_id,
        "number": invoice.number,
        "currency": invoice.currency,
        "total": invoice.total,
        "amount_paid": invoice.amount_paid,
    }
