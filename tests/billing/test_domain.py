"""Billing's pure rules, property-based (hypothesis): money, tax, discounts, periods."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from fitsync.billing import domain, ledger

amounts = st.integers(min_value=0, max_value=10**9)
rates = st.integers(min_value=0, max_value=3000)
modes = st.sampled_from(list(domain.TaxMode))


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_div_round_is_half_away_from_zero(numerator: int, denominator: int) -> None:
    exact = Decimal(numerator) / Decimal(denominator)
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert domain.div_round(numerator, denominator) == expected


@given(st.integers(-(10**9), 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_allocate_sums_exactly_and_stays_within_a_cent(amount: int, weights: list[int]) -> None:
    parts = domain.allocate(amount, weights)
    total = sum(weights)
    if total == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == amount
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part * total - amount * weight) < total  # within one minor unit


@given(amounts, st.integers(1, 50), rates, modes, st.data())
def test_a_line_is_net_plus_tax(
    price: int, quantity: int, rate: int, mode: domain.TaxMode, data: st.DataObject
) -> None:
    discount = data.draw(st.integers(0, price * quantity))
    line = domain.line_amounts(
        unit_price=price, quantity=quantity, discount=discount, tax_rate_bp=rate, mode=mode
    )
    assert line.total == line.net + line.tax
    assert line.tax >= 0
    assert line.net >= 0
    if mode is domain.TaxMode.inclusive:
        assert line.total == price * quantity - discount
    else:
        assert line.net == price * quantity - discount


items = st.builds(
    domain.Item,
    kind=st.sampled_from(["product", "plan", "pack", "fee", "signup_fee"]),
    description=st.just("x"),
    unit_price=st.integers(0, 10**6),
    quantity=st.integers(1, 10),
    tax_rate_bp=rates,
    currency=st.just("EUR"),
    discountable=st.booleans(),
)
rules = st.one_of(
    st.none(),
    st.builds(
        domain.DiscountRule,
        kind=st.just(domain.DiscountKind.percent),
        value=st.integers(1, 10_000),
        applies_to=st.one_of(
            st.none(), st.frozensets(st.sampled_from(["product", "plan", "pack"]))
        ),
    ),
    st.builds(
        domain.DiscountRule,
        kind=st.just(domain.DiscountKind.amount),
        value=st.integers(1, 10**7),
        applies_to=st.none(),
    ),
)


@given(st.lists(items, min_size=1, max_size=8), modes, rules)
def test_every_invoice_posts_a_balanced_transaction(
    lines: list[domain.Item], mode: domain.TaxMode, rule: domain.DiscountRule | None
) -> None:
    priced = domain.price_lines(lines, mode, rule)
    total = sum(p.amounts.total for p in priced)
    shares = [
        ledger.LineShare(p.item.category, p.amounts.net, p.amounts.discount, p.amounts.tax)
        for p in priced
    ]
    legs = ledger.issue_legs(None, total, shares)
    assert sum(leg.amount for leg in legs) == 0
    assert sum(leg.amount for leg in ledger.reverse(legs)) == 0
    net = -sum(leg.amount for leg in legs if leg.account in ledger.REVENUE_ACCOUNTS)
    assert net == sum(p.amounts.net for p in priced)
    for p in priced:
        if not p.item.discountable:
            assert p.amounts.discount == 0


@given(st.integers(1, 10**7), st.integers(0, 3000), st.data())
def test_refunds_post_balanced_and_never_refund_more_tax_than_charged(
    total: int, rate: int, data: st.DataObject
) -> None:
    tax = domain.div_round(total * rate, domain.BP + rate)
    amount = data.draw(st.integers(1, total))
    refund_tax = domain.split_refund_tax(amount, total=total, tax=tax)
    assert 0 <= refund_tax <= tax
    parts = domain.allocate(amount - refund_tax, [3, 1])
    legs = ledger.refund_legs("cash", amount, refund_tax, {"retail": parts[0], "fees": parts[1]})
    assert sum(leg.amount for leg in legs) == 0


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.sampled_from(list(domain.Interval)),
    st.integers(0, 240),
)
def test_periods_follow_the_anchor_without_drift(
    anchor: date, interval: domain.Interval, n: int
) -> None:
    start = domain.period_start(anchor, interval, n)
    following = domain.period_start(anchor, interval, n + 1)
    assert following > start
    if interval is domain.Interval.week:
        assert following - start == timedelta(weeks=1)
        return
    months = n if interval is domain.Interval.month else 12 * n
    assert (start.year * 12 + start.month) - (anchor.year * 12 + anchor.month) == months
    assert start.day == min(anchor.day, calendar.monthrange(start.year, start.month)[1])


def test_month_end_and_leap_day_examples() -> None:
    jan31 = date(2028, 1, 31)
    assert [domain.period_start(jan31, domain.Interval.month, n) for n in range(4)] == [
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
    ]
    leap = date(2028, 2, 29)
    assert domain.period_start(leap, domain.Interval.year, 1) == date(2029, 2, 28)
    assert domain.period_start(leap, domain.Interval.year, 4) == date(2032, 2, 29)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_periods_end_at_local_midnight_across_dst(day: date) -> None:
    for zone in ("Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe"):
        instant = domain.local_midnight(day, zone)
        assert domain.local_date(instant, zone) == day
        assert domain.local_date(instant - timedelta(seconds=1), zone) < day


@given(amounts, st.integers(0, 400), st.integers(1, 400))
def test_proration_never_exceeds_the_price(price: int, used: int, period: int) -> None:
    unused = domain.prorate(price, used_days=used, period_days=period)
    assert 0 <= unused <= price
    if used == 0:
        assert unused == price


def test_payment_states_only_move_forward() -> None:
    assert domain.payment_moves_forward("pending", "succeeded")
    assert domain.payment_moves_forward("failed", "succeeded")
    assert not domain.payment_moves_forward("succeeded", "failed")
    assert not domain.payment_moves_forward("succeeded", "succeeded")
    assert not domain.can_move(domain.Status.canceled, domain.Status.active)
