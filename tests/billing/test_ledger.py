"""The ledger's rules are PostgreSQL's: balanced at commit, append-only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from fitsync.billing import ledger
from fitsync.bootstrap import Container
from fitsync.kernel import clock
from fitsync.kernel.db import transaction
from tests.factories import make_gym


async def post_raw(container: Container, gym_id: uuid.UUID, amounts: list[int]) -> None:
    """Write a ledger transaction by hand, bypassing billing's Python checks."""
    txn = uuid.uuid4()
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        await session.execute(
            text(
                "INSERT INTO billing.ledger_transactions (id, gym_id, kind, currency,"
                " occurred_at) VALUES (:t, :g, 'manual', 'EUR', now())"
            ),
            {"t": txn, "g": gym_id},
        )
        for amount in amounts:
            await session.execute(
                text(
                    "INSERT INTO billing.ledger_entries (gym_id, transaction_id, account,"
                    " amount, currency, occurred_at) VALUES (:g, :t, 'cash', :m, 'EUR', now())"
                ),
                {"g": gym_id, "t": txn, "m": amount},
            )


async def test_an_unbalanced_transaction_cannot_commit(container: Container) -> None:
    gym_id = await make_gym(container)
    with pytest.raises(DBAPIError, match="unbalanced"):
        await post_raw(container, gym_id, [100, -99])
    await post_raw(container, gym_id, [100, -60, -40])


async def test_a_transaction_without_entries_cannot_commit(container: Container) -> None:
    gym_id = await make_gym(container)
    with pytest.raises(DBAPIError, match="no entries"):
        await post_raw(container, gym_id, [])


async def test_posted_entries_cannot_be_changed_or_deleted(
    container: Container, admin_engine: AsyncEngine
) -> None:
    gym_id = await make_gym(container)
    async with transaction(container.sessionmaker, gym_id=gym_id) as session:
        await ledger.post(
            session,
            ledger.Posting(
                gym_id=gym_id,
                kind="payment",
                currency="EUR",
                legs=[ledger.Leg("cash", 500), ledger.Leg("receivable", -500)],
                occurred_at=clock.now(),
            ),
        )
    with pytest.raises(DBAPIError, match="permission denied"):
        async with transaction(container.sessionmaker, gym_id=gym_id) as session:
            await session.execute(text("UPDATE billing.ledger_entries SET amount = 1"))
    # even the database owner goes through the append-only trigger
    with pytest.raises(DBAPIError, match="append-only"):
        async with admin_engine.begin() as conn:
            await conn.execute(text("DELETE FROM billing.ledger_entries"))


async def test_python_refuses_to_post_an_unbalanced_posting(container: Container) -> None:
    posting = ledger.Posting(
        gym_id=uuid.uuid4(),
        kind="x",
        currency="EUR",
        legs=[ledger.Leg("cash", 1)],
        occurred_at=clock.now(),
    )
    async with container.sessionmaker() as session:
        with pytest.raises(ValueError, match="unbalanced"):
            await ledger.post_many(session, [posting])
