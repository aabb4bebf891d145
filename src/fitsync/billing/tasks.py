"""Scheduled jobs: renewals and dunning (``fitsync billing run``; safe to run any time).

Renewals are exactly-once per period, whatever happens to the job:

- each batch locks the due subscriptions ``FOR UPDATE SKIP LOCKED``, so two runs at
  once share the work instead of doing it twice;
- a subscription's period advances in the same transaction as its renewal row, its
  invoice and their ledger posting, so a crash rolls all of it back and the next run
  redoes it; ``UNIQUE (subscription_id, period_start)`` on ``billing.renewals`` is the
  backstop;
- a run that comes late bills every missed period, one per pass, each with its own
  dates (periods are computed from the anchor date in the gym's time zone);
- card charges use the idempotency key ``renewal:<subscription>:<period start>``, so a
  crash after the processor charged and before the commit is reconciled by the next
  run (the processor answers with the same, already-succeeded payment).

Dunning: a failed (card) or unpaid (manual, after the grace days) renewal invoice is
retried after each of the gym's ``dunning_retry_days``; every failure emits
``payment.failed`` and makes the subscription ``past_due``; when the retries are
exhausted it is canceled (``cancel_after_dunning``) and the invoice voided, or it
stays ``past_due``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fitsync.billing import catalogue, domain, invoicing, payments
from fitsync.billing.models import Plan, Renewal, Settings, Subscription
from fitsync.billing.providers import BillingRuntime
from fitsync.kernel import clock
from fitsync.kernel.db import transaction

log = logging.getLogger("fitsync.billing")

LIVE = (domain.Status.trialing.value, domain.Status.active.value)


@dataclass
class JobReport:
    renewed: int = 0
    canceled: int = 0
    charged: int = 0
    failed: int = 0
    retried: int = 0


async def run_renewals(
    sessionmaker: async_sessionmaker[AsyncSession],
    rt: BillingRuntime,
    *,
    now: datetime | None = None,
    batch: int = 500,
) -> JobReport:
    """Renew (or end) every subscription whose period ended by ``now``."""
    now = now or clock.now()
    report = JobReport()
    while True:
        async with transaction(sessionmaker, all_gyms=True) as session:
            picked = await renew_batch(session, rt, now=now, batch=batch, report=report)
        if picked == 0:
            return report


async def renew_batch(
    session: AsyncSession, rt: BillingRuntime, *, now: datetime, batch: int, report: JobReport
) -> int:
    rows = (
        await session.execute(
            select(Subscription, Plan)
            .join(
                Plan, Plan.id == func.coalesce(Subscription.pending_plan_id, Subscription.plan_id)
            )
            .where(Subscription.status.in_(LIVE), Subscription.period_end_at <= now)
            .order_by(Subscription.period_end_at, Subscription.id)
            .limit(batch)
            .with_for_update(of=Subscription, skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    settings = await catalogue.settings_for(session, list({s.gym_id for s, _ in rows}))
    ending = [s for s, _ in rows if s.cancel_at_period_end]
    for sub in ending:
        await invoicing.change_status(
            session, sub, domain.Status.canceled, reason="period_ended", actor_id=None, at=now
        )
        report.canceled += 1
    renewing = [(s, p) for s, p in rows if not s.cancel_at_period_end]
    if not renewing:
        await session.flush()
        return len(rows)
    drafts: dict[uuid.UUID, invoicing.Draft] = {}
    changes: dict[uuid.UUID, dict[str, Any]] = {}
    renewals: list[dict[str, Any]] = []
    for sub, plan in renewing:
        index = sub.period_index + 1
        start = sub.current_period_end
        end = domain.period_start(sub.anchor_date, domain.Interval(plan.interval), index + 1)
        gym_settings: Settings = settings[sub.gym_id]
        changes[sub.id] = {
            "id": sub.id,
            "status": domain.Status.active.value,
            "plan_id": plan.id,
            "pending_plan_id": None,
            "period_index": index,
            "current_period_start": start,
            "current_period_end": end,
            "period_end_at": domain.local_midnight(end, sub.timezone),
            "open_invoice_id": sub.open_invoice_id,
            "next_retry_at": sub.next_retry_at,
            "updated_at": now,
        }
        invoice_id = None
        if plan.price > 0:
            d = invoicing.draft(
                gym_id=sub.gym_id,
                client_id=sub.client_id,
                items=[
                    domain.Item(
                        kind="plan",
                        description=f"Membership: {plan.name} ({start} to {end})",
                        unit_price=plan.price,
                        quantity=1,
                        tax_rate_bp=plan.tax_rate_bp,
                        currency=plan.currency,
                        ref_id=plan.id,
                    )
                ],
                mode=domain.TaxMode(gym_settings.tax_mode),
                kind="renewal",
                at=now,
                subscription_id=sub.id,
                due_at=domain.local_midnight(start, sub.timezone)
                + timedelta(days=gym_settings.manual_grace_days),
            )
            drafts[sub.id] = d
            invoice_id = d.invoice["id"]
        renewals.append(
            {
                "id": uuid.uuid4(),
                "gym_id": sub.gym_id,
                "subscription_id": sub.id,
                "period_start": start,
                "period_index": index,
                "invoice_id": invoice_id,
                "created_at": now,
            }
        )
    fresh = set(
        (
            await session.scalars(
                pg_insert(Renewal)
                .values(renewals)
                .on_conflict_do_nothing(index_elements=["subscription_id", "period_start"])
                .returning(Renewal.subscription_id)
            )
        ).all()
    )
    if len(fresh) < len(renewing):
        log.warning("%d periods were billed already; advancing only", len(renewing) - len(fresh))
    billed = [d for sub_id, d in drafts.items() if sub_id in fresh]
    to_charge: list[tuple[uuid.UUID, dict[str, Any]]] = []
    trial_ended = [s.id for s, _ in renewing if s.status == domain.Status.trialing]
    for sub, _plan in renewing:
        d_or_none = drafts.get(sub.id) if sub.id in fresh else None
        if d_or_none is None:
            continue
        if sub.payment_method == "card":
            to_charge.append((sub.id, d_or_none.invoice))
        else:
            changes[sub.id]["open_invoice_id"] = d_or_none.invoice["id"]
            changes[sub.id]["next_retry_at"] = d_or_none.invoice["due_at"]
    for sub, _plan in renewing:  # keep the status; trial → active is recorded below
        changes[sub.id]["status"] = sub.status
    await invoicing.insert_drafts(session, billed)
    await session.execute(update(Subscription), list(changes.values()))
    report.renewed += len(fresh)
    for sub_id in trial_ended:
        sub = await _reload(session, sub_id)
        await invoicing.change_status(
            session, sub, domain.Status.active, reason="trial_ended", actor_id=None, at=now
        )
    for sub_id, invoice in to_charge:
        sub = await _reload(session, sub_id)
        await _attempt(session, rt, sub, invoice, settings[sub.gym_id], now=now, report=report)
    await session.flush()
    await invoicing.assign_numbers(session, billed)  # last: the counter stays locked
    return len(rows)


async def _reload(session: AsyncSession, sub_id: uuid.UUID) -> Subscription:
    sub = await session.get(Subscription, sub_id, populate_existing=True)
    assert sub is not None
    return sub


async def _attempt(
    session: AsyncSession,
    rt: BillingRuntime,
    sub: Subscription,
    invoice: dict[str, Any],
    settings: Settings,
    *,
    now: datetime,
    report: JobReport,
) -> None:
    """Try to collect a renewal invoice; on failure, schedule the next try (dunning)."""
    attempt = sub.failed_attempts + 1
    reason = "unpaid at the desk"
    if sub.payment_method == "card":
        # Deterministic: a run that crashed after the processor charged gets the same
        # payment back on its retry, never a second charge.
        key = f"renewal:{sub.id}:{sub.current_period_start.isoformat()}:{attempt}"
        result, _ = await payments.collect(
            session,
            rt,
            invoice=invoice,
            method="card",
            card_token=sub.card_token,
            idempotency_key=key,
            actor_id=None,
            off_session=True,
        )
        if result.status == "succeeded":
            report.charged += 1
            sub = await _reload(session, sub.id)
            if sub.open_invoice_id == invoice["id"] or sub.status == domain.Status.past_due:
                sub.open_invoice_id = None
                sub.next_retry_at = None
                sub.failed_attempts = 0
                if sub.status == domain.Status.past_due:
                    await invoicing.change_status(
                        session, sub, domain.Status.active, reason="paid", actor_id=None, at=now
                    )
            return
        reason = result.failure_reason or "declined"
        provider_ref = result.provider_ref
    else:
        provider_ref = None
    report.failed += 1
    retry_days = list(settings.dunning_retry_days or [])
    sub.failed_attempts = attempt
    sub.open_invoice_id = invoice["id"]
    next_at: datetime | None = None
    if attempt <= len(retry_days):
        next_at = now + timedelta(days=retry_days[attempt - 1])
        if sub.status != domain.Status.past_due:
            await invoicing.change_status(
                session,
                sub,
                domain.Status.past_due,
                reason="payment_failed",
                actor_id=None,
                at=now,
                data={"attempt": attempt},
            )
    elif settings.cancel_after_dunning:
        await invoicing.change_status(
            session,
            sub,
            domain.Status.canceled,
            reason="dunning_exhausted",
            actor_id=None,
            at=now,
            data={"attempts": attempt},
        )
        locked = await invoicing.lock_invoice(session, invoice["id"])
        if locked is not None and locked.status == "open" and locked.amount_paid == 0:
            await invoicing.void(session, locked, at=now)
        sub.open_invoice_id = None
        report.canceled += 1
    elif sub.status != domain.Status.past_due:
        await invoicing.change_status(
            session, sub, domain.Status.past_due, reason="payment_failed", actor_id=None, at=now
        )
    sub.next_retry_at = next_at
    sub.updated_at = now
    await invoicing.payment_failed(
        session,
        invoice=invoice,
        method="card" if sub.payment_method == "card" else "manual",
        provider="card" if sub.payment_method == "card" else "manual",
        provider_ref=provider_ref,
        reason=reason,
        attempt=attempt,
        next_retry_at=next_at,
        at=now,
    )


async def run_dunning(
    sessionmaker: async_sessionmaker[AsyncSession],
    rt: BillingRuntime,
    *,
    now: datetime | None = None,
    batch: int = 200,
) -> JobReport:
    """Retry (card) or chase (manual) the open renewal invoices that are due again."""
    now = now or clock.now()
    report = JobReport()
    while True:
        async with transaction(sessionmaker, all_gyms=True) as session:
            subs = (
                await session.scalars(
                    select(Subscription)
                    .where(
                        Subscription.next_retry_at <= now,
                        Subscription.status.in_([*LIVE, domain.Status.past_due.value]),
                    )
                    .order_by(Subscription.next_retry_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not subs:
                return report
            settings = await catalogue.settings_for(session, list({s.gym_id for s in subs}))
            for sub in subs:
                report.retried += 1
                invoice = (
                    await invoicing.lock_invoice(session, sub.open_invoice_id)
                    if sub.open_invoice_id
                    else None
                )
                if invoice is None or invoice.status != "open":
                    sub.next_retry_at = None
                    sub.open_invoice_id = None
                    continue
                await _attempt(
                    session,
                    rt,
                    sub,
                    invoicing.invoice_dict(invoice),
                    settings[sub.gym_id],
                    now=now,
                    report=report,
                )
            await session.flush()


async def run_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    rt: BillingRuntime,
    *,
    now: datetime | None = None,
) -> JobReport:
    """What the scheduler runs: renewals, then dunning."""
    renewed = await run_renewals(sessionmaker, rt, now=now)
    dunned = await run_dunning(sessionmaker, rt, now=now)
    return JobReport(
        renewed=renewed.renewed,
        canceled=renewed.canceled + dunned.canceled,
        charged=renewed.charged + dunned.charged,
        failed=renewed.failed + dunned.failed,
        retried=dunned.retried,
    )
