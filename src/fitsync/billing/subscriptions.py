"""Subscriptions: sign-up, pause/resume, cancel, plan changes; their dated history.

Lifecycle: ``trialing → active → past_due → (paused | canceled)`` (domain.TRANSITIONS).
Periods are calendar dates in the gym's time zone, computed from the anchor date
(domain.period_start); a period ends at the gym's local midnight.

Plan changes (the proration rule): a change to a plan with a higher price takes
effect at once and the client is invoiced
``new_price * unused_days / period_days - old_price * unused_days / period_days``
(each term rounded half away from zero); a change to a cheaper or equal plan takes
effect at the next renewal, without credit. Both plans must have the same interval
and currency.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import catalogue, domain, invoicing, payments
from fitsync.billing.models import Invoice, Plan, Subscription, SubscriptionHistory
from fitsync.billing.providers import BillingRuntime, PaymentDeclined
from fitsync.billing.schemas import HistoryOut, SubscriptionOut
from fitsync.identity import public as identity
from fitsync.kernel import clock
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import PageParams


async def _client(
    session: AsyncSession, principal: Principal, client_id: uuid.UUID
) -> identity.UserInfo:
    if principal.role is Role.client and client_id != principal.user_id:
        raise Forbidden("Clients subscribe themselves only")
    if principal.role not in (Role.client, Role.gym_owner, Role.trainer):
        raise Forbidden("Subscriptions are made by the gym's staff or its clients")
    user = await identity.get_user(session, client_id)
    if user is None or user.gym_id != principal.gym_id:
        raise NotFound("No such client")
    if user.role is not Role.client:
        raise Invalid("Only clients can subscribe", loc=["body", "client_id"])
    return user


def plan_items(plan: Plan, *, with_signup: bool, with_period: bool) -> list[domain.Item]:
    items = []
    if with_signup and plan.signup_fee:
        items.append(
            domain.Item(
                kind="signup_fee",
                description=f"Sign-up fee: {plan.name}",
                unit_price=plan.signup_fee,
                quantity=1,
                tax_rate_bp=plan.tax_rate_bp,
                currency=plan.currency,
                ref_id=plan.id,
                discountable=False,
            )
        )
    if with_period:
        items.append(
            domain.Item(
                kind="plan",
                description=f"Membership: {plan.name} (1 {plan.interval})",
                unit_price=plan.price,
                quantity=1,
                tax_rate_bp=plan.tax_rate_bp,
                currency=plan.currency,
                ref_id=plan.id,
            )
        )
    return items


async def create_subscription(
    session: AsyncSession,
    rt: BillingRuntime,
    *,
    principal: Principal,
    client_id: uuid.UUID,
    plan_id: uuid.UUID,
    starts_on: date | None,
    payment_method: str,
    card_token: str | None,
    paid_with: str | None,
    discount_code: str | None,
    provider_key: str,
    invoice_at_desk: bool = False,
) -> SubscriptionOut:
    """Sign a client up: first invoice now (sign-up fee, and the first period unless
    on trial), paid by card at once, at the desk, or left open for the grace days."""
    gym_id = catalogue.own_gym(principal)
    await _client(session, principal, client_id)
    plan = await catalogue.access_plan(session, gym_id, plan_id)
    if not plan.active:
        raise Invalid("This plan is no longer offered", loc=["body", "plan_id"])
    if payment_method == "card" and not card_token:
        raise Invalid("A card payment needs a card_token", loc=["body", "card_token"])
    if paid_with and (payment_method != "manual" or not principal.is_staff):
        raise Invalid("paid_with is for staff taking a manual payment", loc=["body", "paid_with"])
    gym = await catalogue.gym_of(session, gym_id)
    settings = await catalogue.get_settings(session, gym_id)
    now = clock.now()
    today = domain.local_date(now, gym.timezone)
    start = starts_on or today
    if start < today:
        raise Invalid("starts_on cannot be in the past", loc=["body", "starts_on"])
    interval = domain.Interval(plan.interval)
    trial = plan.trial_days > 0
    if trial:
        anchor = start + timedelta(days=plan.trial_days)
        index, period_end = -1, anchor
    else:
        anchor = start
        index, period_end = 0, domain.period_start(anchor, interval, 1)
    sub = Subscription(
        id=uuid.uuid4(),
        gym_id=gym_id,
        client_id=client_id,
        plan_id=plan.id,
        status=(domain.Status.trialing if trial else domain.Status.active).value,
        payment_method=payment_method,
        card_token=card_token,
        timezone=gym.timezone,
        anchor_date=anchor,
        period_index=index,
        current_period_start=start,
        current_period_end=period_end,
        period_end_at=domain.local_midnight(period_end, gym.timezone),
        trial_end=anchor if trial else None,
        min_term_end=domain.period_start(anchor, interval, plan.min_term_intervals),
        cancel_at_period_end=False,
        failed_attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    await session.flush()
    await invoicing.record_change(
        session,
        sub,
        None,
        domain.Status(sub.status),
        reason="created",
        actor_id=principal.user_id,
        at=now,
    )
    items = plan_items(plan, with_signup=True, with_period=not trial)
    invoice_id = None
    if items:
        code_row, rule = None, None
        if discount_code:
            code_row, rule = await catalogue.redeem(
                session,
                gym_id=gym_id,
                code=discount_code,
                client_id=client_id,
                currency=plan.currency,
                at=now,
            )
        d = invoicing.draft(
            gym_id=gym_id,
            client_id=client_id,
            items=items,
            mode=domain.TaxMode(settings.tax_mode),
            kind="subscription",
            at=now,
            rule=rule,
            discount_code=code_row.code if code_row else None,
            subscription_id=sub.id,
            due_at=now + timedelta(days=settings.manual_grace_days),
        )
        await _collect_first(
            session,
            rt,
            sub,
            d,
            paid_with=paid_with,
            provider_key=provider_key,
            actor_id=principal.user_id,
        )
        if code_row is not None:
            await catalogue.record_redemption(
                session, code_row, client_id=client_id, invoice_id=d.invoice["id"]
            )
        invoice_id = d.invoice["id"]
    await session.flush()
    return await subscription_out(session, sub, invoice_id=invoice_id)


async def _collect_first(
    session: AsyncSession,
    rt: BillingRuntime,
    sub: Subscription,
    d: invoicing.Draft,
    *,
    paid_with: str | None,
    provider_key: str,
    actor_id: uuid.UUID,
) -> None:
    """Charge the card before numbering the invoice (keeps the number lock short)."""
    inv = d.invoice
    if sub.payment_method == "card" and inv["total"] > 0:
        provider = rt.provider("card")
        result = await provider.charge(
            amount=inv["total"],
            currency=inv["currency"],
            idempotency_key=provider_key,
            token=sub.card_token,
            off_session=False,
            metadata={"gym_id": str(sub.gym_id), "reference": provider_key},
        )
        if result.status != "succeeded":
            raise PaymentDeclined(
                f"The card was declined ({result.failure_reason})", reason=result.failure_reason
            )
        await invoicing.issue(session, d)
        await invoicing.record_payment(
            session,
            invoice=inv,
            amount=inv["total"],
            method="card",
            provider="card",
            provider_ref=result.provider_ref,
            actor_id=actor_id,
        )
        return
    await invoicing.issue(session, d)
    if inv["total"] == 0:
        return
    if paid_with:
        await invoicing.record_payment(
            session,
            invoice=inv,
            amount=inv["total"],
            method=paid_with,
            provider="manual",
            provider_ref=None,
            actor_id=actor_id,
        )
        return
    sub.open_invoice_id = inv["id"]
    sub.next_retry_at = inv["due_at"]


async def access_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, lock: bool = False
) -> Subscription:
    stmt = select(Subscription).where(Subscription.id == subscription_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    sub = await session.scalar(stmt)
    if sub is None or not catalogue.visible(principal, sub.gym_id, sub.client_id):
        raise NotFound("No such subscription")
    return sub


async def subscription_out(
    session: AsyncSession,
    sub: Subscription,
    *,
    invoice_id: uuid.UUID | None = None,
    with_history: bool = True,
) -> SubscriptionOut:
    history: list[HistoryOut] = []
    if with_history:
        rows = await session.scalars(
            select(SubscriptionHistory)
            .where(SubscriptionHistory.subscription_id == sub.id)
            .order_by(SubscriptionHistory.id)
        )
        history = [HistoryOut.model_validate(r) for r in rows]
    data: dict[str, Any] = {c.key: getattr(sub, c.key) for c in Subscription.__table__.columns}
    return SubscriptionOut.model_validate({**data, "invoice_id": invoice_id, "history": history})


async def list_subscriptions(
    session: AsyncSession,
    *,
    principal: Principal,
    paging: PageParams,
    client_id: uuid.UUID | None,
    status: str | None,
) -> tuple[list[SubscriptionOut], str | None]:
    stmt = select(Subscription)
    if not principal.is_admin:
        stmt = stmt.where(Subscription.gym_id == catalogue.own_gym(principal))
        if not principal.is_staff:
            client_id = principal.user_id
    if client_id is not None:
        stmt = stmt.where(Subscription.client_id == client_id)
    if status is not None:
        stmt = stmt.where(Subscription.status == status)
    rows, cursor = await catalogue.paged(session, stmt, Subscription, paging)
    return [await subscription_out(session, s, with_history=False) for s in rows], cursor


async def get_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID
) -> SubscriptionOut:
    sub = await access_subscription(session, principal=principal, subscription_id=subscription_id)
    return await subscription_out(session, sub)


async def pause(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID
) -> SubscriptionOut:
    catalogue.require_staff(principal)
    sub = await access_subscription(
        session, principal=principal, subscription_id=subscription_id, lock=True
    )
    now = clock.now()
    await invoicing.change_status(
        session, sub, domain.Status.paused, reason="paused", actor_id=principal.user_id, at=now
    )
    sub.paused_at = now
    await session.flush()
    return await subscription_out(session, sub)


async def resume(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, extend_term: bool
) -> SubscriptionOut:
    """Back from a pause; with ``extend_term`` the days paused are added to the term."""
    catalogue.require_staff(principal)
    sub = await access_subscription(
        session, principal=principal, subscription_id=subscription_id, lock=True
    )
    if sub.status != domain.Status.paused or sub.paused_at is None:
        raise Conflict(f"A {sub.status} subscription cannot be resumed")
    now = clock.now()
    days = (
        domain.local_date(now, sub.timezone) - domain.local_date(sub.paused_at, sub.timezone)
    ).days
    if extend_term and days > 0:
        sub.anchor_date += timedelta(days=days)
        sub.current_period_end += timedelta(days=days)
        sub.min_term_end += timedelta(days=days)
        if sub.trial_end:
            sub.trial_end += timedelta(days=days)
        sub.period_end_at = domain.local_midnight(sub.current_period_end, sub.timezone)
    in_trial = sub.trial_end is not None and domain.local_date(now, sub.timezone) < sub.trial_end
    sub.paused_at = None
    # Back to active (the trial's end date still applies); an unpaid invoice stays in
    # dunning, which makes it past_due again if it fails.
    await invoicing.change_status(
        session,
        sub,
        domain.Status.active,
        reason="resumed",
        actor_id=principal.user_id,
        at=now,
        data={"days_paused": days, "extended": extend_term and days > 0, "in_trial": in_trial},
    )
    await session.flush()
    return await subscription_out(session, sub)


async def cancel(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, at_period_end: bool
) -> SubscriptionOut:
    """Cancel now, or at the end of the current period (the renewal job does it then).

    A client cannot end a subscription before its minimum term; staff can.
    """
    sub = await access_subscription(
        session, principal=principal, subscription_id=subscription_id, lock=True
    )
    if sub.status == domain.Status.canceled:
        raise Conflict("This subscription is canceled already")
    now = clock.now()
    today = domain.local_date(now, sub.timezone)
    ends = sub.current_period_end if at_period_end else today
    if not principal.is_staff and ends < sub.min_term_end:
        raise Conflict(
            f"The minimum term runs until {sub.min_term_end.isoformat()}",
            min_term_end=sub.min_term_end.isoformat(),
        )
    if at_period_end:
        sub.cancel_at_period_end = True
        sub.updated_at = now
        current = domain.Status(sub.status)
        await invoicing.record_change(
            session,
            sub,
            current,
            current,
            reason="cancel_scheduled",
            actor_id=principal.user_id,
            at=now,
            data={"cancel_at": ends.isoformat()},
        )
    else:
        await invoicing.change_status(
            session,
            sub,
            domain.Status.canceled,
            reason="canceled",
            actor_id=principal.user_id,
            at=now,
        )
        if sub.open_invoice_id is not None:
            invoice = await invoicing.lock_invoice(session, sub.open_invoice_id)
            if invoice is not None and invoice.status == "open" and invoice.amount_paid == 0:
                await invoicing.void(session, invoice, at=now)
            sub.open_invoice_id = None
    await session.flush()
    return await subscription_out(session, sub)


async def change_plan(
    session: AsyncSession,
    rt: BillingRuntime,
    *,
    principal: Principal,
    subscription_id: uuid.UUID,
    plan_id: uuid.UUID,
    provider_key: str,
) -> SubscriptionOut:
    catalogue.require_staff(principal)
    sub = await access_subscription(
        session, principal=principal, subscription_id=subscription_id, lock=True
    )
    if sub.status in (domain.Status.canceled, domain.Status.paused):
        raise Conflict(f"A {sub.status} subscription cannot change plan")
    old = await catalogue.access_plan(session, sub.gym_id, sub.plan_id)
    new = await catalogue.access_plan(session, sub.gym_id, plan_id)
    if new.id == old.id:
        raise Conflict("The subscription is on this plan already")
    if (new.interval, new.currency) != (old.interval, old.currency):
        raise Invalid(
            "A plan change keeps the interval and currency; cancel and subscribe instead",
            loc=["body", "plan_id"],
        )
    now = clock.now()
    today = domain.local_date(now, sub.timezone)
    invoice_id = None
    if new.price <= old.price or sub.status == domain.Status.trialing:
        if sub.status == domain.Status.trialing:
            sub.plan_id = new.id
        else:
            sub.pending_plan_id = new.id
    else:
        period_days = (sub.current_period_end - sub.current_period_start).days
        used = (today - sub.current_period_start).days
        charge = domain.prorate(new.price, used_days=used, period_days=period_days)
        credit = domain.prorate(old.price, used_days=used, period_days=period_days)
        sub.plan_id = new.id
        sub.pending_plan_id = None
        if charge - credit > 0:
            settings = await catalogue.get_settings(session, sub.gym_id)
            item = domain.Item(
                kind="proration",
                description=(
                    f"Plan change {old.name} → {new.name},"
                    f" {max(period_days - used, 0)} of {period_days} days"
                ),
                unit_price=charge - credit,
                quantity=1,
                tax_rate_bp=new.tax_rate_bp,
                currency=new.currency,
                ref_id=new.id,
            )
            d = invoicing.draft(
                gym_id=sub.gym_id,
                client_id=sub.client_id,
                items=[item],
                mode=domain.TaxMode(settings.tax_mode),
                kind="proration",
                at=now,
                subscription_id=sub.id,
                due_at=now + timedelta(days=settings.manual_grace_days),
            )
            if sub.payment_method == "card":
                await invoicing.issue(session, d)
                await payments.collect(
                    session,
                    rt,
                    invoice=d.invoice,
                    method="card",
                    card_token=sub.card_token,
                    idempotency_key=provider_key,
                    actor_id=principal.user_id,
                )
            else:
                await invoicing.issue(session, d)
            invoice_id = d.invoice["id"]
    current = domain.Status(sub.status)
    sub.updated_at = now
    await invoicing.record_change(
        session,
        sub,
        current,
        current,
        reason="plan_changed",
        actor_id=principal.user_id,
        at=now,
        data={
            "from_plan_id": str(old.id),
            "to_plan_id": str(new.id),
            "effective": "now" if sub.plan_id == new.id else "next_period",
        },
    )
    await session.flush()
    return await subscription_out(session, sub, invoice_id=invoice_id)


async def open_invoice(session: AsyncSession, sub: Subscription) -> Invoice | None:
    if sub.open_invoice_id is None:
        return None
    return await session.get(Invoice, sub.open_invoice_id)


async def start_paid(
    session: AsyncSession,
    *,
    plan: Plan,
    client_id: uuid.UUID,
    timezone: str,
    actor_id: uuid.UUID,
    invoice_id: uuid.UUID,
) -> Subscription:
    """A subscription whose first period was paid in a sale at the desk (no trial)."""
    now = clock.now()
    start = domain.local_date(now, timezone)
    interval = domain.Interval(plan.interval)
    end = domain.period_start(start, interval, 1)
    sub = Subscription(
        id=uuid.uuid4(),
        gym_id=plan.gym_id,
        client_id=client_id,
        plan_id=plan.id,
        status=domain.Status.active.value,
        payment_method="manual",
        timezone=timezone,
        anchor_date=start,
        period_index=0,
        current_period_start=start,
        current_period_end=end,
        period_end_at=domain.local_midnight(end, timezone),
        min_term_end=domain.period_start(start, interval, plan.min_term_intervals),
        cancel_at_period_end=False,
        failed_attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    await session.flush()
    await invoicing.record_change(
        session,
        sub,
        None,
        domain.Status.active,
        reason="sold",
        actor_id=actor_id,
        at=now,
        data={"invoice_id": str(invoice_id)},
    )
    return sub
