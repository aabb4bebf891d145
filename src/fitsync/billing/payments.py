"""Taking money (through the provider port), invoices as users see them, refunds, webhooks."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import catalogue, domain, invoicing
from fitsync.billing.models import Invoice, InvoiceLine, Payment, WebhookEvent
from fitsync.billing.providers import (
    MANUAL_METHODS,
    BillingRuntime,
    ChargeResult,
    PaymentDeclined,
    ProviderEvent,
)
from fitsync.billing.schemas import InvoiceLineOut, InvoiceOut, RefundOut
from fitsync.kernel import clock
from fitsync.kernel.auth import Principal
from fitsync.kernel.db import set_tenant
from fitsync.kernel.errors import Conflict, Invalid, NotFound
from fitsync.kernel.pagination import PageParams

log = logging.getLogger("fitsync.billing")


def provider_for(method: str) -> str:
    return "manual" if method in MANUAL_METHODS else "card"


async def collect(
    session: AsyncSession,
    rt: BillingRuntime,
    *,
    invoice: dict[str, Any],
    method: str,
    card_token: str | None,
    idempotency_key: str,
    actor_id: uuid.UUID | None,
    off_session: bool = False,
) -> tuple[ChargeResult, uuid.UUID | None]:
    """Ask the provider for the invoice's open amount; record the payment if it succeeded.

    On-session declines raise 402 (the caller's transaction rolls back; a retry with
    the same key gets the processor's stored answer, never a second charge).
    Off-session failures are returned for the caller's dunning.
    """
    amount = invoice["total"] - invoice["amount_paid"]
    if amount <= 0:
        return ChargeResult(status="succeeded"), None
    provider_name = provider_for(method)
    provider = rt.provider(provider_name)
    result = await provider.charge(
        amount=amount,
        currency=invoice["currency"],
        idempotency_key=idempotency_key,
        token=card_token,
        off_session=off_session,
        metadata={"gym_id": str(invoice["gym_id"]), "reference": idempotency_key},
    )
    if result.status == "succeeded":
        payment_id = await invoicing.record_payment(
            session,
            invoice=invoice,
            amount=amount,
            method=method,
            provider=provider_name,
            provider_ref=result.provider_ref,
            actor_id=actor_id,
        )
        invoice["amount_paid"] += amount
        return result, payment_id
    if result.status == "failed" and not off_session:
        raise PaymentDeclined(
            f"The card was declined ({result.failure_reason})",
            reason=result.failure_reason,
            provider_ref=result.provider_ref,
        )
    return result, None


# -- invoices --------------------------------------------------------------------------


async def access_invoice(
    session: AsyncSession, *, principal: Principal, invoice_id: uuid.UUID
) -> Invoice:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or not catalogue.visible(principal, invoice.gym_id, invoice.client_id):
        raise NotFound("No such invoice")
    return invoice


async def invoice_out(session: AsyncSession, invoice: Invoice) -> InvoiceOut:
    lines = (
        await session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.position)
        )
    ).all()
    return _out(invoice, list(lines))


def _out(invoice: Invoice, lines: list[InvoiceLine]) -> InvoiceOut:
    return InvoiceOut.model_validate(
        {
            **{c.key: getattr(invoice, c.key) for c in Invoice.__table__.columns},
            "lines": [InvoiceLineOut.model_validate(ln) for ln in lines],
        }
    )


async def list_invoices(
    session: AsyncSession,
    *,
    principal: Principal,
    paging: PageParams,
    client_id: uuid.UUID | None,
    status: str | None,
) -> tuple[list[InvoiceOut], str | None]:
    stmt = select(Invoice)
    if not principal.is_admin:
        stmt = stmt.where(Invoice.gym_id == catalogue.own_gym(principal))
        if not principal.is_staff:
            client_id = principal.user_id
    if client_id is not None:
        stmt = stmt.where(Invoice.client_id == client_id)
    if status is not None:
        stmt = stmt.where(Invoice.status == status)
    rows, cursor = await catalogue.paged(session, stmt, Invoice, paging)
    lines: dict[uuid.UUID, list[InvoiceLine]] = {r.id: [] for r in rows}
    if rows:
        for ln in await session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id.in_(list(lines)))
            .order_by(InvoiceLine.position)
        ):
            lines[ln.invoice_id].append(ln)
    return [_out(r, lines[r.id]) for r in rows], cursor


async def list_payments(
    session: AsyncSession,
    *,
    principal: Principal,
    paging: PageParams,
    invoice_id: uuid.UUID | None,
) -> tuple[list[Payment], str | None]:
    stmt = select(Payment)
    if not principal.is_admin:
        stmt = stmt.where(Payment.gym_id == catalogue.own_gym(principal))
        if not principal.is_staff:
            stmt = stmt.where(Payment.client_id == principal.user_id)
    if invoice_id is not None:
        stmt = stmt.where(Payment.invoice_id == invoice_id)
    return await catalogue.paged(session, stmt, Payment, paging)


async def pay_invoice(
    session: AsyncSession,
    rt: BillingRuntime,
    *,
    principal: Principal,
    invoice_id: uuid.UUID,
    method: str,
    amount: int | None,
) -> InvoiceOut:
    """Staff record money taken at the desk against an open invoice (full or part)."""
    catalogue.require_staff(principal)
    await access_invoice(session, principal=principal, invoice_id=invoice_id)
    invoice = await invoicing.lock_invoice(session, invoice_id)
    assert invoice is not None
    if invoice.status != "open":
        raise Conflict(f"This invoice is {invoice.status}")
    due = invoice.total - invoice.amount_paid
    await invoicing.record_payment(
        session,
        invoice=invoice,
        amount=amount or due,
        method=method,
        provider="manual",
        provider_ref=None,
        actor_id=principal.user_id,
    )
    await session.refresh(invoice)
    return await invoice_out(session, invoice)


async def refund_invoice(
    session: AsyncSession,
    rt: BillingRuntime,
    *,
    principal: Principal,
    invoice_id: uuid.UUID,
    amount: int | None,
    restock: bool,
    idempotency_key: str,
) -> RefundOut:
    catalogue.require_owner(principal)
    await access_invoice(session, principal=principal, invoice_id=invoice_id)
    invoice = await invoicing.lock_invoice(session, invoice_id)
    assert invoice is not None
    if invoice.status not in ("paid", "open") or invoice.amount_paid == 0:
        raise Conflict(f"Nothing was paid on this {invoice.status} invoice")
    refundable = invoice.amount_paid - invoice.amount_refunded
    amount = refundable if amount is None else amount
    if restock and amount != refundable:
        raise Invalid(
            "Products go back into stock only with a full refund", loc=["body", "restock"]
        )
    now = clock.now()

    async def provider_refund(payment: Payment, value: int) -> str | None:
        result = await rt.provider(payment.provider).refund(
            provider_ref=payment.provider_ref, amount=value, idempotency_key=idempotency_key
        )
        return result.provider_ref

    row = await invoicing.refund(
        session,
        invoice=invoice,
        amount=amount,
        provider_refund=provider_refund,
        actor_id=principal.user_id,
        at=now,
    )
    if restock:
        lines = await session.scalars(
            select(InvoiceLine).where(
                InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == "product"
            )
        )
        for line in lines:
            back = line.quantity - line.returned_quantity
            if back > 0 and line.ref_id is not None:
                await catalogue.move_stock(
                    session,
                    gym_id=invoice.gym_id,
                    product_id=line.ref_id,
                    delta=back,
                    reason="return",
                    actor_id=principal.user_id,
                    invoice_id=invoice.id,
                )
                line.returned_quantity = line.quantity
    await session.flush()
    return RefundOut(
        id=row.id,
        invoice_id=invoice.id,
        amount=row.amount,
        tax=row.tax,
        currency=invoice.currency,
        invoice_status=invoice.status,
        amount_refunded=invoice.amount_refunded,
        created_at=row.created_at,
    )


# -- webhooks --------------------------------------------------------------------------


async def receive_webhook(
    session: AsyncSession,
    rt: BillingRuntime,
    *,
    provider: str,
    payload: bytes,
    headers: dict[str, str],
) -> dict[str, bool]:
    """Verify, deduplicate and apply a provider event.

    Redelivered events are recognised by their id. Events may come in any order: a
    payment's status only moves forward (pending → failed → succeeded → refunded),
    so a late ``payment_failed`` never undoes a ``succeeded``. An event about a
    payment FitSync has not recorded (the request that charged crashed before
    committing) is kept; the retried request records it from the processor's
    idempotent answer.
    """
    event: ProviderEvent = rt.provider(provider).verify_webhook(payload, headers)
    await set_tenant(session, None, all_gyms=True)
    fresh = await session.scalar(_upsert_webhook(provider, event))
    if fresh is None:
        return {"received": True, "duplicate": True, "applied": False}
    applied = False
    if event.payment_ref and event.status:
        applied = await _apply_payment_event(session, provider, event)
    return {"received": True, "duplicate": False, "applied": applied}


def _upsert_webhook(provider: str, event: ProviderEvent) -> Any:
    return (
        pg_insert(WebhookEvent)
        .values(
            provider=provider,
            event_id=event.id,
            gym_id=_uuid(event.gym_id),
            type=event.type,
            payload=json.loads(json.dumps(event.payload)),
            received_at=clock.now(),
        )
        .on_conflict_do_nothing()
        .returning(WebhookEvent.event_id)
    )


async def _apply_payment_event(session: AsyncSession, provider: str, event: ProviderEvent) -> bool:
    payment = await session.scalar(
        select(Payment)
        .where(Payment.provider == provider, Payment.provider_ref == event.payment_ref)
        .with_for_update()
    )
    if payment is None or event.status is None:
        log.info("webhook %s for unknown payment %s kept", event.id, event.payment_ref)
        return False
    if not domain.payment_moves_forward(payment.status, event.status):
        return False
    now = clock.now()
    if event.status == "succeeded":
        # A payment we saw fail (e.g. pending authentication) went through after all.
        invoice = await invoicing.lock_invoice(session, payment.invoice_id)
        assert invoice is not None
        if invoice.status != "open" or invoice.total - invoice.amount_paid < payment.amount:
            log.warning(
                "webhook %s: payment %s succeeded on a settled invoice", event.id, payment.id
            )
            return False
        await invoicing.record_payment(
            session,
            invoice=invoice,
            amount=payment.amount,
            method=payment.method,
            provider=provider,
            provider_ref=payment.provider_ref,
            actor_id=None,
            at=now,
            existing_payment_id=payment.id,
        )
        return True
    payment.status = event.status
    payment.updated_at = now
    return True


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
