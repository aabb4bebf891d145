"""Billing's tables (schema ``billing``), private to this context.

Invariants live in the database: ``stock >= 0`` and ``redemptions <= max`` are CHECK
constraints, a renewal is unique per ``(subscription, period)``, invoice numbers are
unique per gym and drawn from a per-gym counter row inside the issuing transaction
(gapless), and every ledger transaction sums to zero (a deferred constraint trigger,
see the migration). Ledger rows are never updated or deleted.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel import idempotency as _idempotency  # noqa: F401 - registers its table
from fitsync.kernel.db import Base

SCHEMA = "billing"
NOW = text("now()")


class Settings(Base):
    """A gym's billing rules (one row per gym; defaults when absent)."""

    __tablename__ = "settings"
    __table_args__ = {"schema": SCHEMA}

    gym_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tax_mode: Mapped[str] = mapped_column(String(10), server_default="inclusive")
    dunning_retry_days: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{1,3,7}'")
    )
    cancel_after_dunning: Mapped[bool] = mapped_column(server_default=text("true"))
    manual_grace_days: Mapped[int] = mapped_column(server_default=text("7"))
    late_cancel_fee: Mapped[int] = mapped_column(server_default=text("0"))
    no_show_fee: Mapped[int] = mapped_column(server_default=text("0"))
    fee_tax_rate_bp: Mapped[int] = mapped_column(server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("price >= 0 AND signup_fee >= 0", name="amounts"),
        CheckConstraint("interval IN ('week', 'month', 'year')", name="interval"),
        Index("ix_plans_gym_created", "gym_id", "created_at", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    interval: Mapped[str] = mapped_column(String(10))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    signup_fee: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    trial_days: Mapped[int] = mapped_column(server_default=text("0"))
    class_allowance: Mapped[int | None]
    min_term_intervals: Mapped[int] = mapped_column(server_default=text("0"))
    class_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(100)))
    tax_rate_bp: Mapped[int] = mapped_column(server_default=text("0"))
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class Pack(Base):
    """A class pack (N sessions) or, with ``sessions = 1`` and ``drop_in``, a drop-in."""

    __tablename__ = "packs"
    __table_args__ = (
        CheckConstraint("price >= 0 AND sessions > 0", name="amounts"),
        Index("ix_packs_gym_created", "gym_id", "created_at", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    sessions: Mapped[int]
    validity_days: Mapped[int | None]
    drop_in: Mapped[bool] = mapped_column(server_default=text("false"))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    tax_rate_bp: Mapped[int] = mapped_column(server_default=text("0"))
    class_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(100)))
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price"),
        UniqueConstraint("gym_id", "sku"),
        Index("ix_products_gym_created", "gym_id", "created_at", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    tax_rate_bp: Mapped[int] = mapped_column(server_default=text("0"))
    stock: Mapped[int] = mapped_column(server_default=text("0"))
    low_stock_threshold: Mapped[int] = mapped_column(server_default=text("0"))
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)


class StockMovement(Base):
    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_product", "product_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.products.id"))
    delta: Mapped[int]
    reason: Mapped[str] = mapped_column(String(20))
    stock_after: Mapped[int]
    note: Mapped[str | None] = mapped_column(String(500))
    invoice_id: Mapped[uuid.UUID | None]
    actor_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class DiscountCode(Base):
    __tablename__ = "discount_codes"
    __table_args__ = (
        UniqueConstraint("gym_id", "code"),
        CheckConstraint(
            "max_redemptions IS NULL OR redemptions <= max_redemptions", name="max_redemptions"
        ),
        CheckConstraint("kind IN ('percent', 'amount') AND value > 0", name="value"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    max_redemptions: Mapped[int | None]
    per_customer_limit: Mapped[int | None]
    applies_to: Mapped[list[str] | None] = mapped_column(ARRAY(String(10)))
    redemptions: Mapped[int] = mapped_column(server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class DiscountRedemption(Base):
    __tablename__ = "discount_redemptions"
    __table_args__ = (
        Index("ix_discount_redemptions_code_client", "code_id", "client_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    code_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.discount_codes.id"))
    client_id: Mapped[uuid.UUID | None]
    invoice_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('trialing', 'active', 'past_due', 'paused', 'canceled')", name="status"
        ),
        CheckConstraint("payment_method IN ('manual', 'card')", name="payment_method"),
        Index(
            "ix_subscriptions_due",
            "period_end_at",
            postgresql_where=text("status IN ('trialing', 'active')"),
        ),
        Index(
            "ix_subscriptions_retry",
            "next_retry_at",
            postgresql_where=text("next_retry_at IS NOT NULL"),
        ),
        Index("ix_subscriptions_gym_client", "gym_id", "client_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.plans.id"))
    status: Mapped[str] = mapped_column(String(10))
    payment_method: Mapped[str] = mapped_column(String(10))
    card_token: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    anchor_date: Mapped[date] = mapped_column(Date)
    period_index: Mapped[int]
    current_period_start: Mapped[date] = mapped_column(Date)
    current_period_end: Mapped[date] = mapped_column(Date)
    period_end_at: Mapped[datetime]  # local midnight of current_period_end, in UTC
    trial_end: Mapped[date | None] = mapped_column(Date)
    min_term_end: Mapped[date] = mapped_column(Date)
    cancel_at_period_end: Mapped[bool] = mapped_column(server_default=text("false"))
    canceled_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    pending_plan_id: Mapped[uuid.UUID | None]
    failed_attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_retry_at: Mapped[datetime | None]
    open_invoice_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)


class SubscriptionHistory(Base):
    __tablename__ = "subscription_history"
    __table_args__ = (
        Index("ix_subscription_history_sub", "subscription_id", "at"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    gym_id: Mapped[uuid.UUID]
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.subscriptions.id"))
    from_status: Mapped[str | None] = mapped_column(String(10))
    to_status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[uuid.UUID | None]
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class Renewal(Base):
    """One row per billed period: the unique key makes renewals exactly-once."""

    __tablename__ = "renewals"
    __table_args__ = (UniqueConstraint("subscription_id", "period_start"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.subscriptions.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_index: Mapped[int]
    invoice_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class InvoiceCounter(Base):
    __tablename__ = "invoice_counters"
    __table_args__ = {"schema": SCHEMA}

    gym_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("gym_id", "number"),
        UniqueConstraint("gym_id", "external_ref"),
        CheckConstraint("status IN ('draft', 'open', 'paid', 'void', 'refunded')", name="status"),
        CheckConstraint("total = subtotal + tax", name="total"),
        CheckConstraint(
            "amount_paid >= 0 AND amount_refunded >= 0 AND amount_refunded <= amount_paid"
            " AND amount_paid <= total",
            name="paid",
        ),
        Index("ix_invoices_gym_created", "gym_id", "created_at", "id"),
        Index("ix_invoices_client", "client_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    number: Mapped[int | None] = mapped_column(BigInteger)
    client_id: Mapped[uuid.UUID | None]
    subscription_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(20))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    tax_mode: Mapped[str] = mapped_column(String(10))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    tax: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    amount_paid: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    amount_refunded: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    discount_code: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        Index("ix_invoice_lines_invoice", "invoice_id", "position"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.invoices.id"))
    position: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[uuid.UUID | None]
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int]
    unit_price: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)
    tax_rate_bp: Mapped[int]
    tax: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    returned_quantity: Mapped[int] = mapped_column(server_default=text("0"))


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'refunded')", name="status"),
        CheckConstraint("amount > 0", name="amount"),
        Index(
            "uq_payments_provider_ref",
            "provider",
            "provider_ref",
            unique=True,
            postgresql_where=text("provider_ref IS NOT NULL"),
        ),
        Index("ix_payments_gym_created", "gym_id", "created_at", "id"),
        Index("ix_payments_invoice", "invoice_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.invoices.id"))
    client_id: Mapped[uuid.UUID | None]
    provider: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.invoices.id"))
    payment_id: Mapped[uuid.UUID | None]
    amount: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger)
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    actor_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"
    __table_args__ = (
        Index("ix_ledger_transactions_gym", "gym_id", "occurred_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    invoice_id: Mapped[uuid.UUID | None]
    payment_id: Mapped[uuid.UUID | None]
    memo: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime]


class LedgerEntry(Base):
    """One leg of a transaction: ``amount`` > 0 is a debit, < 0 a credit."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount"),
        Index("ix_ledger_entries_transaction", "transaction_id"),
        Index("ix_ledger_entries_gym_account", "gym_id", "account", "occurred_at"),
        Index(
            "ix_ledger_entries_client",
            "client_id",
            postgresql_where=text("client_id IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    gym_id: Mapped[uuid.UUID]
    transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.ledger_transactions.id"))
    account: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[uuid.UUID | None]
    category: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime]


class CreditGrant(Base):
    """Sessions a client bought (a class pack or drop-in); ``used`` never exceeds it."""

    __tablename__ = "credit_grants"
    __table_args__ = (
        CheckConstraint("used >= 0 AND used <= sessions", name="used"),
        Index("ix_credit_grants_client", "client_id", "expires_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    pack_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing.packs.id"))
    invoice_id: Mapped[uuid.UUID | None]
    sessions: Mapped[int]
    used: Mapped[int] = mapped_column(server_default=text("0"))
    class_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(100)))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class EntitlementUse(Base):
    """A booking's use of a plan allowance or a credit; one per booking."""

    __tablename__ = "entitlement_uses"
    __table_args__ = (
        UniqueConstraint("booking_id"),
        Index("ix_entitlement_uses_sub_period", "subscription_id", "period_start"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    gym_id: Mapped[uuid.UUID]
    booking_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    source: Mapped[str] = mapped_column(String(20))
    subscription_id: Mapped[uuid.UUID | None]
    period_start: Mapped[date | None] = mapped_column(Date)
    grant_id: Mapped[uuid.UUID | None]
    returned: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class WebhookEvent(Base):
    """Provider events already applied: a redelivered webhook is a no-op."""

    __tablename__ = "webhook_events"
    __table_args__ = {"schema": SCHEMA}

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    gym_id: Mapped[uuid.UUID | None]
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(server_default=NOW)
