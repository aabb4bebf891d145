"""The double-entry ledger: every money movement is a balanced, immutable transaction.

Signs: a positive amount debits an account, a negative one credits it; the legs of
a transaction sum to zero (PostgreSQL checks it at commit, see the migration).

Accounts:

| account | kind | what it holds |
|---|---|---|
| ``cash``, ``card_clearing``, ``bank`` | asset | money received, by how it came in |
| ``receivable`` (per ``client_id``; walk-ins: none) | asset | owed by clients (< 0: credit) |
| ``revenue`` (per ``category``) | income | list price excl. tax, before discounts |
| ``discounts`` (per ``category``) | contra-income | discounts given |
| ``refunds`` (per ``category``) | contra-income | money given back, excl. tax |
| ``tax_payable`` | liability | tax collected, net of refunds |

Net revenue of a category = -(revenue + discounts + refunds) over its entries.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing.models import LedgerEntry, LedgerTransaction

REVENUE_ACCOUNTS = ("revenue", "discounts", "refunds")
MONEY_ACCOUNT = {
    "cash": "cash",
    "card_terminal": "card_clearing",
    "card": "card_clearing",
    "bank_transfer": "bank",
}


@dataclass(frozen=True)
class Leg:
    account: str
    amount: int
    client_id: uuid.UUID | None = None
    category: str | None = None


@dataclass(frozen=True)
class Posting:
    """A transaction to write: its legs must sum to zero."""

    gym_id: uuid.UUID
    kind: str
    currency: str
    legs: Sequence[Leg]
    occurred_at: datetime
    invoice_id: uuid.UUID | None = None
    payment_id: uuid.UUID | None = None
    memo: str | None = None


@dataclass(frozen=True)
class LineShare:
    """What one invoice line contributes to the ledger."""

    category: str
    net: int
    discount: int
    tax: int


def issue_legs(client_id: uuid.UUID | None, total: int, lines: Iterable[LineShare]) -> list[Leg]:
    """Invoice issued: the client owes the total; revenue, discounts and tax are booked."""
    legs = [Leg("receivable", total, client_id=client_id)]
    revenue: dict[str, int] = {}
    discounts: dict[str, int] = {}
    tax = 0
    for line in lines:
        revenue[line.category] = revenue.get(line.category, 0) + line.net + line.discount
        discounts[line.category] = discounts.get(line.category, 0) + line.discount
        tax += line.tax
    legs += [Leg("revenue", -amount, category=cat) for cat, amount in revenue.items()]
    legs += [Leg("discounts", amount, category=cat) for cat, amount in discounts.items()]
    legs.append(Leg("tax_payable", -tax))
    return legs


def reverse(legs: Iterable[Leg]) -> list[Leg]:
    return [Leg(leg.account, -leg.amount, leg.client_id, leg.category) for leg in legs]


def payment_legs(client_id: uuid.UUID | None, amount: int, method: str) -> list[Leg]:
    """Money came in against what the client owes."""
    return [
        Leg(MONEY_ACCOUNT[method], amount),
        Leg("receivable", -amount, client_id=client_id),
    ]


def refund_legs(method: str, amount: int, tax: int, by_category: dict[str, int]) -> list[Leg]:
    """Money went back: ``by_category`` splits ``amount - tax`` over the categories."""
    legs = [Leg(MONEY_ACCOUNT[method], -amount), Leg("tax_payable", tax)]
    legs += [Leg("refunds", part, category=cat) for cat, part in by_category.items()]
    return legs


def _rows(txn_id: uuid.UUID, posting: Posting) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for leg in posting.legs:
        if leg.amount == 0:
            continue
        rows.append(
            {
                "gym_id": posting.gym_id,
                "transaction_id": txn_id,
                "account": leg.account,
                "client_id": leg.client_id,
                "category": leg.category,
                "amount": leg.amount,
                "currency": posting.currency,
                "occurred_at": posting.occurred_at,
            }
        )
    return rows


async def post_many(session: AsyncSession, postings: Sequence[Posting]) -> list[uuid.UUID]:
    """Write transactions and their entries in two statements; returns their ids."""
    txns: list[dict[str, object]] = []
    entries: list[dict[str, object]] = []
    ids: list[uuid.UUID] = []
    for posting in postings:
        if sum(leg.amount for leg in posting.legs) != 0:
            raise ValueError(f"unbalanced {posting.kind} posting: {posting.legs}")
        rows = _rows(txn_id := uuid.uuid4(), posting)
        if not rows:
            continue  # nothing moved (a zero invoice)
        ids.append(txn_id)
        txns.append(
            {
                "id": txn_id,
                "gym_id": posting.gym_id,
                "kind": posting.kind,
                "currency": posting.currency,
                "invoice_id": posting.invoice_id,
                "payment_id": posting.payment_id,
                "memo": posting.memo,
                "occurred_at": posting.occurred_at,
            }
        )
        entries.extend(rows)
    if txns:
        # render_nulls: one executemany for all rows, whichever optional columns are None
        await session.execute(insert(LedgerTransaction).execution_options(render_nulls=True), txns)
        await session.execute(insert(LedgerEntry).execution_options(render_nulls=True), entries)
    return ids


async def post(session: AsyncSession, posting: Posting) -> uuid.UUID | None:
    ids = await post_many(session, [posting])
    return ids[0] if ids else None
