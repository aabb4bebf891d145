"""Billing's request and response bodies. Money: integer minor units + ISO 4217 currency."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from fitsync.kernel.schemas import Input, Output


def _currency(code: str) -> str:
    if not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise ValueError("must be an ISO 4217 code such as 'EUR' or 'USD'")
    return code.upper()


Currency = Annotated[str, AfterValidator(_currency)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Amount = Annotated[int, Field(ge=0, le=100_000_000_00)]
Positive = Annotated[int, Field(gt=0, le=100_000_000_00)]
TaxRate = Annotated[int, Field(ge=0, le=10_000, description="basis points: 2000 = 20 %")]
ClassType = Annotated[str, Field(min_length=1, max_length=100)]
ManualMethod = Literal["cash", "card_terminal", "bank_transfer"]
PaymentMethodName = Literal["cash", "card_terminal", "bank_transfer", "card"]


# -- settings --------------------------------------------------------------------------


class BillingSettingsIn(Input):
    tax_mode: Literal["inclusive", "exclusive"] | None = None
    dunning_retry_days: (
        Annotated[list[Annotated[int, Field(ge=1, le=60)]], Field(max_length=10)] | None
    ) = None
    cancel_after_dunning: bool | None = None
    manual_grace_days: Annotated[int, Field(ge=0, le=90)] | None = None
    late_cancel_fee: Amount | None = None
    no_show_fee: Amount | None = None
    fee_tax_rate_bp: TaxRate | None = None


class BillingSettingsOut(Output):
    tax_mode: str
    dunning_retry_days: list[int]
    cancel_after_dunning: bool
    manual_grace_days: int
    late_cancel_fee: int
    no_show_fee: int
    fee_tax_rate_bp: int
    currency: str


# -- catalogue -------------------------------------------------------------------------


class PlanIn(Input):
    name: Name
    interval: Literal["week", "month", "year"]
    price: Amount
    currency: Currency | None = None
    signup_fee: Amount = 0
    trial_days: Annotated[int, Field(ge=0, le=365)] = 0
    class_allowance: Annotated[int, Field(ge=0, le=10_000)] | None = None
    min_term_intervals: Annotated[int, Field(ge=0, le=120)] = 0
    class_types: Annotated[list[ClassType], Field(max_length=50)] | None = None
    tax_rate_bp: TaxRate = 0


class PlanOut(Output):
    id: uuid.UUID
    name: str
    interval: str
    price: int
    currency: str
    signup_fee: int
    trial_days: int
    class_allowance: int | None
    min_term_intervals: int
    class_types: list[str] | None
    tax_rate_bp: int
    active: bool
    created_at: datetime


class PackIn(Input):
    name: Name
    sessions: Annotated[int, Field(ge=1, le=1000)]
    validity_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    drop_in: bool = False
    price: Amount
    currency: Currency | None = None
    tax_rate_bp: TaxRate = 0
    class_types: Annotated[list[ClassType], Field(max_length=50)] | None = None

    @model_validator(mode="after")
    def _drop_in_is_one_session(self) -> PackIn:
        if self.drop_in and self.sessions != 1:
            raise ValueError("a drop-in is one session")
        return self


class PackOut(Output):
    id: uuid.UUID
    name: str
    sessions: int
    validity_days: int | None
    drop_in: bool
    price: int
    currency: str
    tax_rate_bp: int
    class_types: list[str] | None
    active: bool
    created_at: datetime


class ProductIn(Input):
    name: Name
    sku: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")]
    price: Amount
    currency: Currency | None = None
    tax_rate_bp: TaxRate = 0
    stock: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    low_stock_threshold: Annotated[int, Field(ge=0, le=10_000_000)] = 0


class ProductPatch(Input):
    name: Name | None = None
    price: Amount | None = None
    tax_rate_bp: TaxRate | None = None
    low_stock_threshold: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    active: bool | None = None


class ProductOut(Output):
    id: uuid.UUID
    name: str
    sku: str
    price: int
    currency: str
    tax_rate_bp: int
    stock: int
    low_stock_threshold: int
    active: bool
    created_at: datetime
    updated_at: datetime


class StockAdjustmentIn(Input):
    delta: Annotated[int, Field(ge=-10_000_000, le=10_000_000)]
    reason: Literal["delivery", "shrinkage", "damage", "return", "count", "correction"]
    note: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _not_zero(self) -> StockAdjustmentIn:
        if self.delta == 0:
            raise ValueError("delta must not be zero")
        return self


class StockMovementOut(Output):
    id: uuid.UUID
    product_id: uuid.UUID
    delta: int
    reason: str
    stock_after: int
    note: str | None
    invoice_id: uuid.UUID | None
    created_at: datetime


class DiscountCodeIn(Input):
    code: Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
    kind: Literal["percent", "amount"]
    value: Annotated[int, Field(gt=0, le=100_000_000_00)]
    currency: Currency | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_redemptions: Annotated[int, Field(ge=1)] | None = None
    per_customer_limit: Annotated[int, Field(ge=1)] | None = None
    applies_to: list[Literal["product", "plan", "pack"]] | None = None

    @model_validator(mode="after")
    def _check(self) -> DiscountCodeIn:
        if self.kind == "percent" and self.value > 10_000:
            raise ValueError("a percent discount is at most 10000 basis points (100 %)")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class DiscountCodeOut(Output):
    id: uuid.UUID
    code: str
    kind: str
    value: int
    currency: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    max_redemptions: int | None
    per_customer_limit: int | None
    applies_to: list[str] | None
    redemptions: int
    created_at: datetime


# -- invoices and payments -------------------------------------------------------------


class InvoiceLineOut(Output):
    id: uuid.UUID
    kind: str
    ref_id: uuid.UUID | None
    category: str
    description: str
    quantity: int
    unit_price: int
    discount: int
    net: int
    tax_rate_bp: int
    tax: int
    total: int


class InvoiceOut(Output):
    id: uuid.UUID
    number: int | None
    status: str
    kind: str
    client_id: uuid.UUID | None
    subscription_id: uuid.UUID | None
    lines: list[InvoiceLineOut]
    subtotal: int = Field(description="sum of the lines' net amounts (after discount, excl. tax)")
    discount: int
    tax: int
    total: int
    currency: str
    tax_mode: str
    amount_paid: int
    amount_refunded: int
    discount_code: str | None
    issued_at: datetime | None
    due_at: datetime | None
    paid_at: datetime | None


class PaymentOut(Output):
    id: uuid.UUID
    invoice_id: uuid.UUID
    client_id: uuid.UUID | None
    provider: str
    method: str
    amount: int
    currency: str
    status: str
    provider_ref: str | None
    failure_reason: str | None
    created_at: datetime


class InvoicePaymentIn(Input):
    """Record money taken at the desk against an open invoice."""

    method: ManualMethod
    amount: Positive | None = None


class RefundIn(Input):
    amount: Positive | None = None
    restock: bool = Field(
        default=False, description="put the invoice's products back into stock (full refunds)"
    )


class RefundOut(Output):
    id: uuid.UUID
    invoice_id: uuid.UUID
    amount: int
    tax: int
    currency: str
    invoice_status: str
    amount_refunded: int
    created_at: datetime


# -- point of sale ---------------------------------------------------------------------


class SaleItem(Input):
    product_id: uuid.UUID | None = None
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1
    plan_id: uuid.UUID | None = None
    pack_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SaleItem:
        if sum(x is not None for x in (self.product_id, self.plan_id, self.pack_id)) != 1:
            raise ValueError("each item names exactly one of product_id, plan_id, pack_id")
        return self


class SalePayment(Input):
    method: PaymentMethodName
    card_token: Annotated[str, Field(max_length=100)] | None = None


class SaleIn(Input):
    items: Annotated[list[SaleItem], Field(min_length=1, max_length=100)]
    client_id: uuid.UUID | None = None
    payment: SalePayment
    discount_code: Annotated[str, Field(max_length=64)] | None = None


class SaleOut(Output):
    id: uuid.UUID
    invoice_id: uuid.UUID
    number: int
    total: int
    tax: int
    currency: str
    payment_id: uuid.UUID | None
    subscription_ids: list[uuid.UUID] = []
    credit_grant_ids: list[uuid.UUID] = []


# -- subscriptions ---------------------------------------------------------------------


class SubscriptionIn(Input):
    client_id: uuid.UUID
    plan_id: uuid.UUID
    starts_on: date | None = None
    payment_method: Literal["manual", "card"] = "manual"
    card_token: Annotated[str, Field(max_length=100)] | None = None
    paid_with: ManualMethod | None = Field(
        default=None,
        description="manual only: the first invoice was paid at the desk by this method",
    )
    discount_code: Annotated[str, Field(max_length=64)] | None = None


class CancelIn(Input):
    at_period_end: bool = True


class PauseIn(Input):
    pass


class ResumeIn(Input):
    extend_term: bool = Field(
        default=True, description="push the period end back by the days spent paused"
    )


class ChangePlanIn(Input):
    plan_id: uuid.UUID


class HistoryOut(Output):
    from_status: str | None
    to_status: str
    reason: str
    at: datetime
    data: dict[str, object]


class SubscriptionOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    plan_id: uuid.UUID
    status: str
    payment_method: str
    current_period_start: date
    current_period_end: date
    trial_end: date | None
    min_term_end: date
    cancel_at_period_end: bool
    canceled_at: datetime | None
    paused_at: datetime | None
    pending_plan_id: uuid.UUID | None
    failed_attempts: int
    next_retry_at: datetime | None
    open_invoice_id: uuid.UUID | None
    created_at: datetime
    invoice_id: uuid.UUID | None = None
    history: list[HistoryOut] = []


class EntitlementOut(Output):
    allowed: bool
    source: str | None
    reason: str
    subscription_id: uuid.UUID | None = None
    remaining: int | None = None
    credits: int = 0


# -- reports ---------------------------------------------------------------------------


class DayRevenue(Output):
    date: date
    total: int


class RevenueReport(Output):
    currency: str
    total: int
    by_category: dict[str, int]
    by_day: list[DayRevenue]
    by_month: dict[str, int]


class LedgerCheck(Output):
    transactions: int
    entries: int
    unbalanced: int
    sum: int
    accounts: dict[str, int]


class SummaryReport(Output):
    currency: str
    mrr: int
    members: dict[str, int]
    failed_payments: int
    outstanding: int
    outstanding_by_client: dict[str, int]
    stock_value: int
    stock_units: int


class WebhookOut(Output):
    received: bool
    duplicate: bool
    applied: bool
