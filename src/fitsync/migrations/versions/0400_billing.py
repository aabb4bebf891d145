"""Billing: catalogue, subscriptions, invoices, payments, ledger, POS and inventory.

Revision ID: 0400
Revises: 0001
Create Date: 2026-11-23

Also creates ``kernel.idempotency_keys`` (fitsync.kernel.idempotency), which any
context's unsafe endpoints may use. The ledger's balance rule is a deferred
constraint trigger: at commit, every ledger transaction touched must have at least
two entries, one currency, and sum to zero; ledger rows cannot be updated or deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from fitsync.kernel.db import APP_ROLE, rls_policy_sql

revision: str = "0400"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("billing",)
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "settings",
    "plans",
    "packs",
    "products",
    "stock_movements",
    "discount_codes",
    "discount_redemptions",
    "subscriptions",
    "subscription_history",
    "renewals",
    "invoice_counters",
    "invoices",
    "invoice_lines",
    "payments",
    "refunds",
    "ledger_transactions",
    "ledger_entries",
    "credit_grants",
    "entitlement_uses",
    "webhook_events",
)

LEDGER_SQL = [
    """
    CREATE FUNCTION billing.check_ledger_transaction() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        txn uuid := COALESCE(NEW.transaction_id, OLD.transaction_id);
        total numeric;
        legs int;
        currencies int;
    BEGIN
        SELECT COALESCE(sum(e.amount), 0), count(*), count(DISTINCT e.currency)
          INTO total, legs, currencies
          FROM billing.ledger_entries e WHERE e.transaction_id = txn;
        IF total <> 0 OR legs < 2 OR currencies <> 1 THEN
            RAISE EXCEPTION 'ledger transaction % is unbalanced (sum %, % legs, % currencies)',
                txn, total, legs, currencies
                USING ERRCODE = '23514', CONSTRAINT = 'ledger_balanced';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_balanced
        AFTER INSERT ON billing.ledger_entries
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION billing.check_ledger_transaction()
    """,
    """
    CREATE FUNCTION billing.check_ledger_transaction_has_entries() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM billing.ledger_entries WHERE transaction_id = NEW.id) THEN
            RAISE EXCEPTION 'ledger transaction % has no entries', NEW.id
                USING ERRCODE = '23514', CONSTRAINT = 'ledger_balanced';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_has_entries
        AFTER INSERT ON billing.ledger_transactions
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION billing.check_ledger_transaction_has_entries()
    """,
    """
    CREATE FUNCTION billing.ledger_is_immutable() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only: post a correcting transaction instead'
            USING ERRCODE = '55000';
    END $$
    """,
    """
    CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON billing.ledger_entries
        FOR EACH ROW EXECUTE FUNCTION billing.ledger_is_immutable()
    """,
    """
    CREATE TRIGGER ledger_transactions_immutable
        BEFORE UPDATE OR DELETE ON billing.ledger_transactions
        FOR EACH ROW EXECUTE FUNCTION billing.ledger_is_immutable()
    """,
]


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS billing")
    op.execute(f"GRANT USAGE ON SCHEMA billing TO {APP_ROLE}")
    op.create_table(
        "discount_codes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("valid_from", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("valid_until", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("applies_to", postgresql.ARRAY(sa.String(length=10)), nullable=True),
        sa.Column("redemptions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('percent', 'amount') AND value > 0", name=op.f("ck_discount_codes_value")
        ),
        sa.CheckConstraint(
            "max_redemptions IS NULL OR redemptions <= max_redemptions",
            name=op.f("ck_discount_codes_max_redemptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_codes")),
        sa.UniqueConstraint("gym_id", "code", name=op.f("uq_discount_codes_gym_id_code")),
        schema="billing",
    )
    op.create_table(
        "entitlement_uses",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("booking_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("grant_id", sa.UUID(), nullable=True),
        sa.Column("returned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlement_uses")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_entitlement_uses_booking_id")),
        schema="billing",
    )
    op.create_index(
        "ix_entitlement_uses_sub_period",
        "entitlement_uses",
        ["subscription_id", "period_start"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "invoice_counters",
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("gym_id", name=op.f("pk_invoice_counters")),
        schema="billing",
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("subscription_id", sa.UUID(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_mode", sa.String(length=10), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("discount_code", sa.String(length=64), nullable=True),
        sa.Column("issued_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("due_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("paid_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("voided_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'paid', 'void', 'refunded')",
            name=op.f("ck_invoices_status"),
        ),
        sa.CheckConstraint(
            "amount_paid >= 0 AND amount_refunded >= 0 AND amount_refunded <= amount_paid AND amount_paid <= total",
            name=op.f("ck_invoices_paid"),
        ),
        sa.CheckConstraint("total = subtotal + tax", name=op.f("ck_invoices_total")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("gym_id", "external_ref", name=op.f("uq_invoices_gym_id_external_ref")),
        sa.UniqueConstraint("gym_id", "number", name=op.f("uq_invoices_gym_id_number")),
        schema="billing",
    )
    op.create_index(
        "ix_invoices_client",
        "invoices",
        ["client_id", "created_at"],
        unique=False,
        schema="billing",
    )
    op.create_index(
        "ix_invoices_gym_created",
        "invoices",
        ["gym_id", "created_at", "id"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=True),
        sa.Column("payment_id", sa.UUID(), nullable=True),
        sa.Column("memo", sa.String(length=300), nullable=True),
        sa.Column("occurred_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        schema="billing",
    )
    op.create_index(
        "ix_ledger_transactions_gym",
        "ledger_transactions",
        ["gym_id", "occurred_at"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "packs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.Column("drop_in", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_types", postgresql.ARRAY(sa.String(length=100)), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("price >= 0 AND sessions > 0", name=op.f("ck_packs_amounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packs")),
        schema="billing",
    )
    op.create_index(
        "ix_packs_gym_created",
        "packs",
        ["gym_id", "created_at", "id"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("signup_fee", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("trial_days", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_allowance", sa.Integer(), nullable=True),
        sa.Column("min_term_intervals", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_types", postgresql.ARRAY(sa.String(length=100)), nullable=True),
        sa.Column("tax_rate_bp", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("interval IN ('week', 'month', 'year')", name=op.f("ck_plans_interval")),
        sa.CheckConstraint("price >= 0 AND signup_fee >= 0", name=op.f("ck_plans_amounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        schema="billing",
    )
    op.create_index(
        "ix_plans_gym_created",
        "plans",
        ["gym_id", "created_at", "id"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "products",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("stock", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("low_stock_threshold", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("price >= 0", name=op.f("ck_products_price")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_products_stock_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("gym_id", "sku", name=op.f("uq_products_gym_id_sku")),
        schema="billing",
    )
    op.create_index(
        "ix_products_gym_created",
        "products",
        ["gym_id", "created_at", "id"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "settings",
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("tax_mode", sa.String(length=10), server_default="inclusive", nullable=False),
        sa.Column(
            "dunning_retry_days",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{1,3,7}'"),
            nullable=False,
        ),
        sa.Column(
            "cancel_after_dunning", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column("manual_grace_days", sa.Integer(), server_default=sa.text("7"), nullable=False),
        sa.Column("late_cancel_fee", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("no_show_fee", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("fee_tax_rate_bp", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("gym_id", name=op.f("pk_settings")),
        schema="billing",
    )
    op.create_table(
        "webhook_events",
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=True),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "received_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_webhook_events")),
        schema="billing",
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
        schema="kernel",
    )
    op.create_table(
        "credit_grants",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("pack_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=True),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_types", postgresql.ARRAY(sa.String(length=100)), nullable=True),
        sa.Column("expires_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("used >= 0 AND used <= sessions", name=op.f("ck_credit_grants_used")),
        sa.ForeignKeyConstraint(
            ["pack_id"], ["billing.packs.id"], name=op.f("fk_credit_grants_pack_id_packs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
        schema="billing",
    )
    op.create_index(
        "ix_credit_grants_client",
        "credit_grants",
        ["client_id", "expires_at"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "discount_redemptions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("code_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["code_id"],
            ["billing.discount_codes.id"],
            name=op.f("fk_discount_redemptions_code_id_discount_codes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_redemptions")),
        schema="billing",
    )
    op.create_index(
        "ix_discount_redemptions_code_client",
        "discount_redemptions",
        ["code_id", "client_id"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref_id", sa.UUID(), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("returned_quantity", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["billing.invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        schema="billing",
    )
    op.create_index(
        "ix_invoice_lines_invoice",
        "invoice_lines",
        ["invoice_id", "position"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("transaction_id", sa.UUID(), nullable=False),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("occurred_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount")),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["billing.ledger_transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        schema="billing",
    )
    op.create_index(
        "ix_ledger_entries_client",
        "ledger_entries",
        ["client_id"],
        unique=False,
        schema="billing",
        postgresql_where=sa.text("client_id IS NOT NULL"),
    )
    op.create_index(
        "ix_ledger_entries_gym_account",
        "ledger_entries",
        ["gym_id", "account", "occurred_at"],
        unique=False,
        schema="billing",
    )
    op.create_index(
        "ix_ledger_entries_transaction",
        "ledger_entries",
        ["transaction_id"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("failure_reason", sa.String(length=300), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'refunded')",
            name=op.f("ck_payments_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["billing.invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        schema="billing",
    )
    op.create_index(
        "ix_payments_gym_created",
        "payments",
        ["gym_id", "created_at", "id"],
        unique=False,
        schema="billing",
    )
    op.create_index(
        "ix_payments_invoice", "payments", ["invoice_id"], unique=False, schema="billing"
    )
    op.create_index(
        "uq_payments_provider_ref",
        "payments",
        ["provider", "provider_ref"],
        unique=True,
        schema="billing",
        postgresql_where=sa.text("provider_ref IS NOT NULL"),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("payment_id", sa.UUID(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["billing.invoices.id"], name=op.f("fk_refunds_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        schema="billing",
    )
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("stock_after", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("invoice_id", sa.UUID(), nullable=True),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["billing.products.id"],
            name=op.f("fk_stock_movements_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        schema="billing",
    )
    op.create_index(
        "ix_stock_movements_product",
        "stock_movements",
        ["product_id", "created_at"],
        unique=False,
        schema="billing",
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("payment_method", sa.String(length=10), nullable=False),
        sa.Column("card_token", sa.String(length=100), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("anchor_date", sa.Date(), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("current_period_start", sa.Date(), nullable=False),
        sa.Column("current_period_end", sa.Date(), nullable=False),
        sa.Column("period_end_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("trial_end", sa.Date(), nullable=True),
        sa.Column("min_term_end", sa.Date(), nullable=False),
        sa.Column(
            "cancel_at_period_end", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("canceled_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("paused_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("pending_plan_id", sa.UUID(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_retry_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("open_invoice_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "payment_method IN ('manual', 'card')", name=op.f("ck_subscriptions_payment_method")
        ),
        sa.CheckConstraint(
            "status IN ('trialing', 'active', 'past_due', 'paused', 'canceled')",
            name=op.f("ck_subscriptions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["billing.plans.id"], name=op.f("fk_subscriptions_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        schema="billing",
    )
    op.create_index(
        "ix_subscriptions_due",
        "subscriptions",
        ["period_end_at"],
        unique=False,
        schema="billing",
        postgresql_where=sa.text("status IN ('trialing', 'active')"),
    )
    op.create_index(
        "ix_subscriptions_gym_client",
        "subscriptions",
        ["gym_id", "client_id", "created_at"],
        unique=False,
        schema="billing",
    )
    op.create_index(
        "ix_subscriptions_retry",
        "subscriptions",
        ["next_retry_at"],
        unique=False,
        schema="billing",
        postgresql_where=sa.text("next_retry_at IS NOT NULL"),
    )
    op.create_table(
        "renewals",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing.subscriptions.id"],
            name=op.f("fk_renewals_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renewals")),
        sa.UniqueConstraint(
            "subscription_id", "period_start", name=op.f("uq_renewals_subscription_id_period_start")
        ),
        schema="billing",
    )
    op.create_table(
        "subscription_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("gym_id", sa.UUID(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("from_status", sa.String(length=10), nullable=True),
        sa.Column("to_status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing.subscriptions.id"],
            name=op.f("fk_subscription_history_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_history")),
        schema="billing",
    )
    op.create_index(
        "ix_subscription_history_sub",
        "subscription_history",
        ["subscription_id", "at"],
        unique=False,
        schema="billing",
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON kernel.idempotency_keys TO {APP_ROLE}")
    for table in TENANT_TABLES:
        for statement in rls_policy_sql(f"billing.{table}"):
            op.execute(statement)
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA billing TO {APP_ROLE}")
    # The ledger is append-only for the application.
    op.execute(
        f"REVOKE UPDATE, DELETE ON billing.ledger_entries, billing.ledger_transactions"
        f" FROM {APP_ROLE}"
    )
    for statement in LEDGER_SQL:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index(
        "ix_subscription_history_sub", table_name="subscription_history", schema="billing"
    )
    op.drop_table("subscription_history", schema="billing")
    op.drop_table("renewals", schema="billing")
    op.drop_index(
        "ix_subscriptions_retry",
        table_name="subscriptions",
        schema="billing",
        postgresql_where=sa.text("next_retry_at IS NOT NULL"),
    )
    op.drop_index("ix_subscriptions_gym_client", table_name="subscriptions", schema="billing")
    op.drop_index(
        "ix_subscriptions_due",
        table_name="subscriptions",
        schema="billing",
        postgresql_where=sa.text("status IN ('trialing', 'active')"),
    )
    op.drop_table("subscriptions", schema="billing")
    op.drop_index("ix_stock_movements_product", table_name="stock_movements", schema="billing")
    op.drop_table("stock_movements", schema="billing")
    op.drop_table("refunds", schema="billing")
    op.drop_index(
        "uq_payments_provider_ref",
        table_name="payments",
        schema="billing",
        postgresql_where=sa.text("provider_ref IS NOT NULL"),
    )
    op.drop_index("ix_payments_invoice", table_name="payments", schema="billing")
    op.drop_index("ix_payments_gym_created", table_name="payments", schema="billing")
    op.drop_table("payments", schema="billing")
    op.drop_index("ix_ledger_entries_transaction", table_name="ledger_entries", schema="billing")
    op.drop_index("ix_ledger_entries_gym_account", table_name="ledger_entries", schema="billing")
    op.drop_index(
        "ix_ledger_entries_client",
        table_name="ledger_entries",
        schema="billing",
        postgresql_where=sa.text("client_id IS NOT NULL"),
    )
    op.drop_table("ledger_entries", schema="billing")
    op.drop_index("ix_invoice_lines_invoice", table_name="invoice_lines", schema="billing")
    op.drop_table("invoice_lines", schema="billing")
    op.drop_index(
        "ix_discount_redemptions_code_client", table_name="discount_redemptions", schema="billing"
    )
    op.drop_table("discount_redemptions", schema="billing")
    op.drop_index("ix_credit_grants_client", table_name="credit_grants", schema="billing")
    op.drop_table("credit_grants", schema="billing")
    op.drop_table("idempotency_keys", schema="kernel")
    op.drop_table("webhook_events", schema="billing")
    op.drop_table("settings", schema="billing")
    op.drop_index("ix_products_gym_created", table_name="products", schema="billing")
    op.drop_table("products", schema="billing")
    op.drop_index("ix_plans_gym_created", table_name="plans", schema="billing")
    op.drop_table("plans", schema="billing")
    op.drop_index("ix_packs_gym_created", table_name="packs", schema="billing")
    op.drop_table("packs", schema="billing")
    op.drop_index("ix_ledger_transactions_gym", table_name="ledger_transactions", schema="billing")
    op.drop_table("ledger_transactions", schema="billing")
    op.drop_index("ix_invoices_gym_created", table_name="invoices", schema="billing")
    op.drop_index("ix_invoices_client", table_name="invoices", schema="billing")
    op.drop_table("invoices", schema="billing")
    op.drop_table("invoice_counters", schema="billing")
    op.drop_index("ix_entitlement_uses_sub_period", table_name="entitlement_uses", schema="billing")
    op.drop_table("entitlement_uses", schema="billing")
    op.drop_table("discount_codes", schema="billing")
    op.execute("DROP SCHEMA IF EXISTS billing CASCADE")
