"""Reports for the gym owner. Revenue and balances are sums of ledger entries."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import catalogue, domain, ledger
from fitsync.billing.models import (
    LedgerEntry,
    LedgerTransaction,
    Payment,
    Plan,
    Product,
    Subscription,
)
from fitsync.billing.schemas import DayRevenue, LedgerCheck, RevenueReport, SummaryReport
from fitsync.kernel.auth import Principal


async def revenue(
    session: AsyncSession, *, principal: Principal, start: date, end: date
) -> RevenueReport:
    """Net revenue (excl. tax, after discounts and refunds) per category and local day,
    for the days ``start`` … ``end`` (inclusive) in the gym's time zone."""
    gym_id = catalogue.require_owner(principal)
    gym = await catalogue.gym_of(session, gym_id)
    lo = domain.local_midnight(start, gym.timezone)
    hi = domain.local_midnight(end + timedelta(days=1), gym.timezone)
    day = func.date(func.timezone(gym.timezone, LedgerEntry.occurred_at)).label("day")
    rows = (
        await session.execute(
            select(day, LedgerEntry.category, func.sum(-LedgerEntry.amount))
            .where(
                LedgerEntry.gym_id == gym_id,
                LedgerEntry.account.in_(ledger.REVENUE_ACCOUNTS),
                LedgerEntry.occurred_at >= lo,
                LedgerEntry.occurred_at < hi,
            )
            .group_by(day, LedgerEntry.category)
            .order_by(day)
        )
    ).all()
    by_category: dict[str, int] = {}
    by_day: dict[date, int] = {}
    by_month: dict[str, int] = {}
    for d, category, amount in rows:
        value = int(amount)
        by_category[category or "other"] = by_category.get(category or "other", 0) + value
        by_day[d] = by_day.get(d, 0) + value
        by_month[d.strftime("%Y-%m")] = by_month.get(d.strftime("%Y-%m"), 0) + value
    return RevenueReport(
        currency=gym.currency,
        total=sum(by_category.values()),
        by_category=by_category,
        by_day=[DayRevenue(date=d, total=v) for d, v in sorted(by_day.items())],
        by_month=by_month,
    )


async def ledger_check(session: AsyncSession, *, principal: Principal) -> LedgerCheck:
    """Every transaction must sum to zero; counts the ones that do not (always 0)."""
    if not principal.is_admin:
        catalogue.require_owner(principal)
    scope = [] if principal.is_admin else [LedgerEntry.gym_id == principal.gym_id]
    per_txn = (
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount).label("s"))
        .where(*scope)
        .group_by(LedgerEntry.transaction_id)
        .subquery()
    )
    transactions, unbalanced = (
        await session.execute(
            select(func.count(), func.count(case((per_txn.c.s != 0, 1)))).select_from(per_txn)
        )
    ).one()
    empty = await session.scalar(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(
            *([] if principal.is_admin else [LedgerTransaction.gym_id == principal.gym_id]),
            ~select(LedgerEntry.id)
            .where(LedgerEntry.transaction_id == LedgerTransaction.id)
            .exists(),
        )
    )
    accounts = {
        str(account): int(total)
        for account, total in (
            await session.execute(
                select(LedgerEntry.account, func.sum(LedgerEntry.amount))
                .where(*scope)
                .group_by(LedgerEntry.account)
            )
        ).all()
    }
    entries = await session.scalar(select(func.count()).select_from(LedgerEntry).where(*scope))
    return LedgerCheck(
        transactions=int(transactions),
        entries=int(entries or 0),
        unbalanced=int(unbalanced) + int(empty or 0),
        sum=sum(accounts.values()),
        accounts=accounts,
    )


async def client_balance(session: AsyncSession, client_id: uuid.UUID) -> int:
    """What the client owes (negative: a credit), from the receivable entries."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.account == "receivable", LedgerEntry.client_id == client_id
        )
    )
    return int(total or 0)


async def summary(session: AsyncSession, *, principal: Principal) -> SummaryReport:
    gym_id = catalogue.require_owner(principal)
    gym = await catalogue.gym_of(session, gym_id)
    members = {
        str(status): int(n)
        for status, n in (
            await session.execute(
                select(Subscription.status, func.count(func.distinct(Subscription.client_id)))
                .where(Subscription.gym_id == gym_id)
                .group_by(Subscription.status)
            )
        ).all()
    }
    mrr = 0
    for price, interval, n in (
        await session.execute(
            select(Plan.price, Plan.interval, func.count())
            .join(Subscription, Subscription.plan_id == Plan.id)
            .where(
                Subscription.gym_id == gym_id,
                Subscription.status.in_(["active", "past_due"]),
            )
            .group_by(Plan.price, Plan.interval)
        )
    ).all():
        mrr += domain.monthly_value(int(price), domain.Interval(interval)) * int(n)
    failed = await session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(Payment.gym_id == gym_id, Payment.status == "failed")
    )
    owed = {
        str(client): int(total)
        for client, total in (
            await session.execute(
                select(LedgerEntry.client_id, func.sum(LedgerEntry.amount))
                .where(
                    LedgerEntry.gym_id == gym_id,
                    LedgerEntry.account == "receivable",
                    LedgerEntry.client_id.is_not(None),
                )
                .group_by(LedgerEntry.client_id)
                .having(func.sum(LedgerEntry.amount) != 0)
            )
        ).all()
    }
    value, units = (
        await session.execute(
            select(
                func.coalesce(func.sum(Product.stock * Product.price), 0),
                func.coalesce(func.sum(Product.stock), 0),
            ).where(Product.gym_id == gym_id, Product.active.is_(True))
        )
    ).one()
    return SummaryReport(
        currency=gym.currency,
        mrr=mrr,
        members=members,
        failed_payments=int(failed or 0),
        outstanding=sum(v for v in owed.values() if v > 0),
        outstanding_by_client={k: v for k, v in owed.items() if v > 0},
        stock_value=int(value),
        stock_units=int(units),
    )
