"""Billing's pure rules: money arithmetic, tax, discounts, periods, proration, states.

Money is an ``int`` of minor units (cents) of one currency. Every rounding in billing
goes through :func:`div_round`, which rounds half away from zero ("commercial"
rounding), and it happens **per invoice line**:

- tax-inclusive prices (the gym's default): ``tax = round(gross * r / (1 + r))``,
  ``net = gross - tax``, so the line total is exactly the shelf price;
- tax-exclusive prices: ``tax = round(net * r)``, ``total = net + tax``.

Discounts are taken off before tax and spread over the discountable lines in
proportion to their amounts, by largest remainder, so they add up to the cent.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BP = 10_000  # basis points in one (tax rates, percent discounts: 2000 bp = 20 %)


def div_round(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    return sign * (q + (1 if 2 * r >= denominator else 0))


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` over ``weights`` proportionally; the parts sum to ``amount``.

    Largest remainder: each part gets its floor, the cents left go to the largest
    fractional parts (earlier lines first on ties). Zero weights get zero.
    """
    total = sum(weights)
    if total <= 0 or amount == 0:
        return [0] * len(weights)
    if amount < 0:
        return [-p for p in allocate(-amount, weights)]
    floors = [amount * w // total for w in weights]
    rests = [amount * w % total for w in weights]
    left = amount - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-rests[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors


class TaxMode(enum.StrEnum):
    inclusive = "inclusive"
    exclusive = "exclusive"


@dataclass(frozen=True)
class LineAmounts:
    gross: int  # unit price * quantity, as priced (incl. tax when inclusive)
    discount: int  # taken off gross
    net: int  # revenue, excluding tax, after discount
    tax: int
    total: int  # what the client pays for the line: net + tax


def line_amounts(
    *, unit_price: int, quantity: int, discount: int, tax_rate_bp: int, mode: TaxMode
) -> LineAmounts:
    if unit_price < 0 or quantity <= 0 or tax_rate_bp < 0:
        raise ValueError("price, quantity and tax rate must be non-negative (quantity > 0)")
    gross = unit_price * quantity
    if not 0 <= discount <= gross:
        raise ValueError("discount must be between 0 and the line amount")
    after = gross - discount
    if mode is TaxMode.inclusive:
        tax = div_round(after * tax_rate_bp, BP + tax_rate_bp)
        net = after - tax
    else:
        tax = div_round(after * tax_rate_bp, BP)
        net = after
    return LineAmounts(gross=gross, discount=discount, net=net, tax=tax, total=net + tax)


class DiscountKind(enum.StrEnum):
    percent = "percent"  # value in basis points (1500 = 15 %)
    amount = "amount"  # value in minor units, off the whole cart


def discount_for(kind: DiscountKind, value: int, base: int) -> int:
    """The discount on ``base`` minor units, never more than ``base``."""
    if base <= 0:
        return 0
    if kind is DiscountKind.percent:
        return min(base, div_round(base * value, BP))
    return min(base, value)


def split_refund_tax(amount: int, *, total: int, tax: int) -> int:
    """The tax part of a refund of ``amount`` from an invoice of ``total`` with ``tax``."""
    return div_round(amount * tax, total) if total > 0 else 0


# -- periods ---------------------------------------------------------------------------


class Interval(enum.StrEnum):
    week = "week"
    month = "month"
    year = "year"


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months``, clamped to the month's end (Jan 31 + 1 → Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def period_start(anchor: date, interval: Interval, n: int) -> date:
    """Start of the ``n``-th period of a subscription anchored on ``anchor``.

    Always computed from the anchor, never from the previous period, so a member who
    joined on Jan 31 renews on Feb 28 (or 29), then Mar 31 — no drift to the 28th.
    """
    if interval is Interval.week:
        return anchor + timedelta(weeks=n)
    months = n if interval is Interval.month else 12 * n
    return add_months(anchor, months)


def local_midnight(day: date, timezone: str) -> datetime:
    """The instant a local calendar ``day`` begins in ``timezone``, in UTC.

    A period ends at the gym's local midnight, whatever DST does in between; on a
    day whose midnight does not exist (a DST jump at 00:00) it is the first instant
    that does.
    """
    local = datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def local_date(at: datetime, timezone: str) -> date:
    return at.astimezone(ZoneInfo(timezone)).date()


def prorate(amount: int, *, used_days: int, period_days: int) -> int:
    """The unused part of ``amount`` after ``used_days`` of a ``period_days`` period."""
    if period_days <= 0:
        return 0
    remaining = min(max(period_days - used_days, 0), period_days)
    return div_round(amount * remaining, period_days)


def monthly_value(price: int, interval: Interval) -> int:
    """A plan's price per month (for MRR): weekly * 52 / 12, yearly / 12."""
    if interval is Interval.month:
        return price
    if interval is Interval.year:
        return div_round(price, 12)
    return div_round(price * 52, 12)


# -- subscription states ---------------------------------------------------------------


class Status(enum.StrEnum):
    trialing = "trialing"
    active = "active"
    past_due = "past_due"
    paused = "paused"
    canceled = "canceled"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.trialing: frozenset({Status.active, Status.past_due, Status.paused, Status.canceled}),
    Status.active: frozenset({Status.past_due, Status.paused, Status.canceled}),
    Status.past_due: frozenset({Status.active, Status.paused, Status.canceled}),
    Status.paused: frozenset({Status.active, Status.canceled}),
    Status.canceled: frozenset(),
}


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


# Webhook events may arrive twice or out of order: a payment only moves forward.
PAYMENT_RANK = {"pending": 0, "failed": 1, "succeeded": 2, "refunded": 3}


def payment_moves_forward(current: str, new: str) -> bool:
    return PAYMENT_RANK.get(new, -1) > PAYMENT_RANK.get(current, -1)


# -- pricing an invoice ----------------------------------------------------------------

CATEGORY = {
    "product": "retail",
    "plan": "membership",
    "proration": "membership",
    "pack": "class_packs",
    "signup_fee": "signup_fees",
    "fee": "fees",
}


@dataclass(frozen=True)
class Item:
    """Something to put on an invoice, priced as the catalogue says."""

    kind: str  # product | plan | pack | signup_fee | fee | proration
    description: str
    unit_price: int
    quantity: int
    tax_rate_bp: int
    currency: str
    ref_id: object = None
    discountable: bool = True

    @property
    def category(self) -> str:
        return CATEGORY[self.kind]


@dataclass(frozen=True)
class DiscountRule:
    kind: DiscountKind
    value: int
    applies_to: frozenset[str] | None  # item kinds; None = every discountable item


@dataclass(frozen=True)
class PricedLine:
    item: Item
    amounts: LineAmounts


def price_lines(
    items: Sequence[Item], mode: TaxMode, rule: DiscountRule | None
) -> list[PricedLine]:
    """Price every line; a discount is computed on the eligible lines' gross and spread
    over them in proportion (largest remainder), before tax."""
    eligible = [
        i
        for i, item in enumerate(items)
        if rule is not None
        and item.discountable
        and (rule.applies_to is None or item.kind in rule.applies_to)
    ]
    shares = [0] * len(items)
    if rule is not None and eligible:
        gross = [items[i].unit_price * items[i].quantity for i in eligible]
        total_off = discount_for(rule.kind, rule.value, sum(gross))
        for i, part in zip(eligible, allocate(total_off, gross), strict=True):
            shares[i] = part
    return [
        PricedLine(
            item=item,
            amounts=line_amounts(
                unit_price=item.unit_price,
                quantity=item.quantity,
                discount=shares[i],
                tax_rate_bp=item.tax_rate_bp,
                mode=mode,
            ),
        )
        for i, item in enumerate(items)
    ]
