"""May a client book, and what a booking uses up: a plan's allowance, else a credit.

Scheduling asks :func:`check` before it books (through ``billing.public``) and
billing consumes on ``booking.created`` / gives back on ``booking.cancelled``
(handlers.py), at most once per booking (``UNIQUE (booking_id)``). Allowances count
the bookings made in the subscription's current period; credits are taken from the
grant that expires first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import catalogue, domain, invoicing
from fitsync.billing.models import CreditGrant, EntitlementUse, Invoice, Plan, Subscription

LIVE = (domain.Status.trialing.value, domain.Status.active.value)


@dataclass(frozen=True)
class Entitlement:
    allowed: bool
    source: str | None  # "subscription" | "credits" | None
    reason: str
    subscription_id: uuid.UUID | None = None
    grant_id: uuid.UUID | None = None
    remaining: int | None = None  # allowance left in the period; None = unlimited
    credits: int = 0


def _covers(types: list[str] | None, class_type: str | None) -> bool:
    return not types or class_type is None or class_type in types


async def _credits(
    session: AsyncSession, client_id: uuid.UUID, class_type: str | None, at: datetime
) -> list[CreditGrant]:
    grants = await session.scalars(
        select(CreditGrant)
        .where(
            CreditGrant.client_id == client_id,
            CreditGrant.used < CreditGrant.sessions,
            or_(CreditGrant.expires_at.is_(None), CreditGrant.expires_at > at),
        )
        .order_by(CreditGrant.expires_at.asc().nulls_last(), CreditGrant.created_at)
    )
    return [g for g in grants if _covers(g.class_types, class_type)]


async def check(
    session: AsyncSession,
    *,
    gym_id: uuid.UUID,
    client_id: uuid.UUID,
    class_type: str | None = None,
    at: datetime,
    lock: bool = False,
) -> Entitlement:
    stmt = (
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.gym_id == gym_id,
            Subscription.client_id == client_id,
            Subscription.status.in_(LIVE),
        )
        .order_by(Subscription.created_at)
    )
    if lock:
        stmt = stmt.with_for_update(of=Subscription)
    credits = await _credits(session, client_id, class_type, at)
    left = sum(g.sessions - g.used for g in credits)
    for sub, plan in (await session.execute(stmt)).all():
        if not _covers(plan.class_types, class_type):
            continue
        if plan.class_allowance is None:
            return Entitlement(True, "subscription", "unlimited plan", sub.id, credits=left)
        used = await session.scalar(
            select(func.count())
            .select_from(EntitlementUse)
            .where(
                EntitlementUse.subscription_id == sub.id,
                EntitlementUse.period_start == sub.current_period_start,
                EntitlementUse.returned.is_(False),
            )
        )
        remaining = plan.class_allowance - int(used or 0)
        if remaining > 0:
            return Entitlement(
                True, "subscription", "plan allowance", sub.id, remaining=remaining, credits=left
            )
    if credits:
        return Entitlement(True, "credits", "class credits", grant_id=credits[0].id, credits=left)
    return Entitlement(False, None, "no plan allowance or class credits left")


async def consume(
    session: AsyncSession,
    *,
    gym_id: uuid.UUID,
    client_id: uuid.UUID,
    booking_id: uuid.UUID,
    class_type: str | None,
    at: datetime,
) -> Entitlement:
    """Use up what the booking needs, once per booking (a repeat returns the same)."""
    done = await session.scalar(
        select(EntitlementUse).where(EntitlementUse.booking_id == booking_id)
    )
    if done is not None:
        return Entitlement(True, done.source, "already used", done.subscription_id, done.grant_id)
    found = await check(
        session, gym_id=gym_id, client_id=client_id, class_type=class_type, at=at, lock=True
    )
    if not found.allowed:
        return found
    period_start = None
    grant_id = None
    if found.source == "subscription":
        sub = await session.get(Subscription, found.subscription_id)
        assert sub is not None
        period_start = sub.current_period_start
    else:
        grant_id = await session.scalar(
            text(
                "UPDATE billing.credit_grants SET used = used + 1 WHERE id = ("
                " SELECT id FROM billing.credit_grants WHERE client_id = :client"
                " AND used < sessions AND (expires_at IS NULL OR expires_at > :at)"
                " AND (class_types IS NULL OR CAST(:type AS text) IS NULL"
                " OR CAST(:type AS text) = ANY(class_types))"
                " ORDER BY expires_at ASC NULLS LAST, created_at LIMIT 1 FOR UPDATE"
                ") RETURNING id"
            ),
            {"client": client_id, "at": at, "type": class_type},
        )
        if grant_id is None:
            return Entitlement(False, None, "no class credits left")
    try:
        async with session.begin_nested():
            await session.execute(
                insert(EntitlementUse).values(
                    gym_id=gym_id,
                    booking_id=booking_id,
                    client_id=client_id,
                    source=found.source,
                    subscription_id=found.subscription_id,
                    period_start=period_start,
                    grant_id=grant_id,
                    created_at=at,
                )
            )
    except IntegrityError:
        return Entitlement(True, found.source, "already used", found.subscription_id)
    return Entitlement(True, found.source, found.reason, found.subscription_id, grant_id)


async def release(session: AsyncSession, *, booking_id: uuid.UUID) -> bool:
    """Give back what a booking used (a timely cancellation); False if nothing was used."""
    use = await session.scalar(
        select(EntitlementUse)
        .where(EntitlementUse.booking_id == booking_id, EntitlementUse.returned.is_(False))
        .with_for_update()
    )
    if use is None:
        return False
    use.returned = True
    if use.grant_id is not None:
        await session.execute(
            text("UPDATE billing.credit_grants SET used = used - 1 WHERE id = :id AND used > 0"),
            {"id": use.grant_id},
        )
    await session.flush()
    return True


async def charge_fee(
    session: AsyncSession,
    *,
    gym_id: uuid.UUID,
    client_id: uuid.UUID,
    booking_id: uuid.UUID,
    kind: str,
    at: datetime,
) -> uuid.UUID | None:
    """Invoice a ``late_cancel`` or ``no_show`` fee per the gym's settings (once per booking).

    The fee invoice stays open (the client owes it; staff collect it at the desk).
    """
    settings = await catalogue.get_settings(session, gym_id)
    amount = settings.late_cancel_fee if kind == "late_cancel" else settings.no_show_fee
    if amount <= 0:
        return None
    ref = f"{kind}:{booking_id}"
    existing = await session.scalar(
        select(Invoice.id).where(Invoice.gym_id == gym_id, Invoice.external_ref == ref)
    )
    if existing is not None:
        return existing
    gym = await catalogue.gym_of(session, gym_id)
    label = "Late cancellation fee" if kind == "late_cancel" else "No-show fee"
    d = invoicing.draft(
        gym_id=gym_id,
        client_id=client_id,
        items=[
            domain.Item(
                kind="fee",
                description=label,
                unit_price=amount,
                quantity=1,
                tax_rate_bp=settings.fee_tax_rate_bp,
                currency=gym.currency,
                ref_id=booking_id,
                discountable=False,
            )
        ],
        mode=domain.TaxMode(settings.tax_mode),
        kind="fee",
        at=at,
        external_ref=ref,
        due_at=at + timedelta(days=settings.manual_grace_days),
    )
    await invoicing.issue(session, d)
    return uuid.UUID(str(d.invoice["id"]))
