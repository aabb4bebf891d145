"""Billing's HTTP layer (``/api/v1/billing/...``): thin, one service call per endpoint.

Money-moving POSTs (sales, subscriptions, plan changes, invoice payments, refunds)
require an ``Idempotency-Key`` header (kernel/idempotency.py).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from fitsync.billing import (
    catalogue,
    payments,
    pdf,
    pos,
    reports,
    subscriptions,
    tasks,
)
from fitsync.billing import entitlements as ent
from fitsync.billing.providers import BillingRuntime
from fitsync.billing.schemas import (
    BillingSettingsIn,
    BillingSettingsOut,
    CancelIn,
    ChangePlanIn,
    DiscountCodeIn,
    DiscountCodeOut,
    EntitlementOut,
    InvoiceOut,
    InvoicePaymentIn,
    LedgerCheck,
    PackIn,
    PackOut,
    PaymentOut,
    PlanIn,
    PlanOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    RefundIn,
    RefundOut,
    ResumeIn,
    RevenueReport,
    SaleIn,
    SaleOut,
    StockAdjustmentIn,
    StockMovementOut,
    SubscriptionIn,
    SubscriptionOut,
    SummaryReport,
    WebhookOut,
)
from fitsync.identity import public as identity
from fitsync.kernel import clock, idempotency
from fitsync.kernel.auth import CurrentPrincipal, Principal, Role, require_roles
from fitsync.kernel.errors import Invalid, NotFound
from fitsync.kernel.http import DbSession
from fitsync.kernel.idempotency import IdempotencyKey
from fitsync.kernel.pagination import Page, Paging

router = APIRouter(prefix="/billing", tags=["billing"])


async def runtime(request: Request) -> BillingRuntime:
    """Billing's providers, built by the composition root from the settings."""
    rt = request.app.state.container.billing
    assert isinstance(rt, BillingRuntime)
    return rt


Runtime = Annotated[BillingRuntime, Depends(runtime)]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
IDEMPOTENT: dict[int | str, dict[str, Any]] = {
    409: {"description": "a request with this Idempotency-Key is in progress, or a conflict"},
    422: {"description": "invalid input, or the Idempotency-Key was used with another body"},
}


def _scope(principal: Principal) -> str:
    return str(principal.user_id)


def _provider_key(principal: Principal, key: str) -> str:
    return f"{principal.user_id}:{key}"


# -- settings --------------------------------------------------------------------------


async def _settings_out(session: DbSession, gym_id: uuid.UUID) -> BillingSettingsOut:
    row = await catalogue.get_settings(session, gym_id)
    gym = await catalogue.gym_of(session, gym_id)
    data = {k: getattr(row, k) for k in catalogue.DEFAULT_SETTINGS}
    return BillingSettingsOut(**data, currency=gym.currency)


@router.get("/settings", response_model=BillingSettingsOut)
async def get_settings(principal: CurrentPrincipal, session: DbSession) -> BillingSettingsOut:
    """The gym's billing rules: tax mode, dunning schedule, booking fees."""
    return await _settings_out(session, catalogue.require_staff(principal))


@router.put("/settings", response_model=BillingSettingsOut)
async def put_settings(
    body: BillingSettingsIn, principal: CurrentPrincipal, session: DbSession
) -> BillingSettingsOut:
    row = await catalogue.update_settings(
        session, principal=principal, changes=body.model_dump(exclude_unset=True)
    )
    return await _settings_out(session, row.gym_id)


# -- catalogue -------------------------------------------------------------------------


@router.post("/plans", status_code=status.HTTP_201_CREATED, response_model=PlanOut)
async def create_plan(body: PlanIn, principal: CurrentPrincipal, session: DbSession) -> PlanOut:
    return PlanOut.model_validate(
        await catalogue.create_plan(session, principal=principal, **body.model_dump())
    )


@router.get("/plans", response_model=Page[PlanOut])
async def list_plans(
    principal: CurrentPrincipal, session: DbSession, paging: Paging
) -> Page[PlanOut]:
    rows, cursor = await catalogue.list_plans(session, principal=principal, paging=paging)
    return Page(items=[PlanOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/plans/{plan_id}", response_model=PlanOut)
async def get_plan(plan_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> PlanOut:
    gym = None if principal.is_admin else catalogue.own_gym(principal)
    return PlanOut.model_validate(await catalogue.access_plan(session, gym, plan_id))


@router.post("/packs", status_code=status.HTTP_201_CREATED, response_model=PackOut)
async def create_pack(body: PackIn, principal: CurrentPrincipal, session: DbSession) -> PackOut:
    """A class pack (N sessions, optional validity) or a drop-in (one session)."""
    return PackOut.model_validate(
        await catalogue.create_pack(session, principal=principal, **body.model_dump())
    )


@router.get("/packs", response_model=Page[PackOut])
async def list_packs(
    principal: CurrentPrincipal, session: DbSession, paging: Paging
) -> Page[PackOut]:
    rows, cursor = await catalogue.list_packs(session, principal=principal, paging=paging)
    return Page(items=[PackOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.post("/discount-codes", status_code=status.HTTP_201_CREATED, response_model=DiscountCodeOut)
async def create_discount_code(
    body: DiscountCodeIn, principal: CurrentPrincipal, session: DbSession
) -> DiscountCodeOut:
    return DiscountCodeOut.model_validate(
        await catalogue.create_discount_code(session, principal=principal, **body.model_dump())
    )


@router.get("/discount-codes", response_model=Page[DiscountCodeOut])
async def list_discount_codes(
    principal: CurrentPrincipal, session: DbSession, paging: Paging
) -> Page[DiscountCodeOut]:
    rows, cursor = await catalogue.list_discount_codes(session, principal=principal, paging=paging)
    return Page(items=[DiscountCodeOut.model_validate(r) for r in rows], next_cursor=cursor)


# -- products and stock ----------------------------------------------------------------


@router.post("/products", status_code=status.HTTP_201_CREATED, response_model=ProductOut)
async def create_product(
    body: ProductIn, principal: CurrentPrincipal, session: DbSession
) -> ProductOut:
    return ProductOut.model_validate(
        await catalogue.create_product(session, principal=principal, **body.model_dump())
    )


@router.get("/products", response_model=Page[ProductOut])
async def list_products(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Paging,
    low_stock: Annotated[
        bool, Query(description="only products at or below their threshold")
    ] = False,
) -> Page[ProductOut]:
    rows, cursor = await catalogue.list_products(
        session, principal=principal, paging=paging, low_stock=low_stock
    )
    return Page(items=[ProductOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/products/{product_id}", response_model=ProductOut)
async def get_product(
    product_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ProductOut:
    return ProductOut.model_validate(
        await catalogue.access_product(session, principal=principal, product_id=product_id)
    )


@router.patch("/products/{product_id}", response_model=ProductOut)
async def update_product(
    product_id: uuid.UUID, body: ProductPatch, principal: CurrentPrincipal, session: DbSession
) -> ProductOut:
    """Name, price, tax rate, threshold, active. Stock changes only by adjustments and sales."""
    return ProductOut.model_validate(
        await catalogue.update_product(
            session,
            principal=principal,
            product_id=product_id,
            changes=body.model_dump(exclude_unset=True),
        )
    )


@router.post(
    "/products/{product_id}/stock-adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=StockMovementOut,
)
async def adjust_stock(
    product_id: uuid.UUID, body: StockAdjustmentIn, principal: CurrentPrincipal, session: DbSession
) -> StockMovementOut:
    """Delivery (+), shrinkage/damage (-), returns (+), counts; below zero → 409."""
    return StockMovementOut.model_validate(
        await catalogue.adjust_stock(
            session, principal=principal, product_id=product_id, **body.model_dump()
        )
    )


@router.get("/products/{product_id}/stock-movements", response_model=Page[StockMovementOut])
async def list_stock_movements(
    product_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, paging: Paging
) -> Page[StockMovementOut]:
    rows, cursor = await catalogue.list_stock_movements(
        session, principal=principal, product_id=product_id, paging=paging
    )
    return Page(items=[StockMovementOut.model_validate(r) for r in rows], next_cursor=cursor)


# -- point of sale ---------------------------------------------------------------------


@router.post(
    "/sales", status_code=status.HTTP_201_CREATED, response_model=SaleOut, responses=IDEMPOTENT
)
async def sell(
    body: SaleIn,
    key: IdempotencyKey,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> JSONResponse:
    """Sell at the desk; stock never goes below zero (409), the card is charged once."""
    return await idempotency.run(
        session,
        scope=_scope(principal),
        key=key,
        request=request,
        body=body,
        call=lambda: pos.sell(
            session, rt, principal=principal, sale=body, provider_key=_provider_key(principal, key)
        ),
    )


# -- subscriptions ---------------------------------------------------------------------


@router.post(
    "/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionOut,
    responses=IDEMPOTENT,
)
async def create_subscription(
    body: SubscriptionIn,
    key: IdempotencyKey,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> JSONResponse:
    return await idempotency.run(
        session,
        scope=_scope(principal),
        key=key,
        request=request,
        body=body,
        call=lambda: subscriptions.create_subscription(
            session,
            rt,
            principal=principal,
            provider_key=_provider_key(principal, key),
            **body.model_dump(),
        ),
    )


@router.get("/subscriptions", response_model=Page[SubscriptionOut])
async def list_subscriptions(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Paging,
    client_id: uuid.UUID | None = None,
    status_: Annotated[
        Literal["trialing", "active", "past_due", "paused", "canceled"] | None,
        Query(alias="status"),
    ] = None,
) -> Page[SubscriptionOut]:
    items, cursor = await subscriptions.list_subscriptions(
        session, principal=principal, paging=paging, client_id=client_id, status=status_
    )
    return Page(items=items, next_cursor=cursor)


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(
    subscription_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> SubscriptionOut:
    """With its dated history (every status change, pause, plan change)."""
    return await subscriptions.get_subscription(
        session, principal=principal, subscription_id=subscription_id
    )


@router.post("/subscriptions/{subscription_id}/pause", response_model=SubscriptionOut)
async def pause(
    subscription_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> SubscriptionOut:
    return await subscriptions.pause(session, principal=principal, subscription_id=subscription_id)


@router.post("/subscriptions/{subscription_id}/resume", response_model=SubscriptionOut)
async def resume(
    subscription_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    body: ResumeIn | None = None,
) -> SubscriptionOut:
    return await subscriptions.resume(
        session,
        principal=principal,
        subscription_id=subscription_id,
        extend_term=(body or ResumeIn()).extend_term,
    )


@router.post("/subscriptions/{subscription_id}/cancel", response_model=SubscriptionOut)
async def cancel(
    subscription_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    body: CancelIn | None = None,
) -> SubscriptionOut:
    return await subscriptions.cancel(
        session,
        principal=principal,
        subscription_id=subscription_id,
        at_period_end=(body or CancelIn()).at_period_end,
    )


@router.post(
    "/subscriptions/{subscription_id}/change-plan",
    response_model=SubscriptionOut,
    responses=IDEMPOTENT,
)
async def change_plan(
    subscription_id: uuid.UUID,
    body: ChangePlanIn,
    key: IdempotencyKey,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> JSONResponse:
    """Upgrades now with a prorated invoice; downgrades at the next renewal."""
    return await idempotency.run(
        session,
        scope=_scope(principal),
        key=key,
        request=request,
        body=body,
        status_code=200,
        call=lambda: subscriptions.change_plan(
            session,
            rt,
            principal=principal,
            subscription_id=subscription_id,
            plan_id=body.plan_id,
            provider_key=_provider_key(principal, key),
        ),
    )


# -- invoices and payments -------------------------------------------------------------


@router.get("/invoices", response_model=Page[InvoiceOut])
async def list_invoices(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Paging,
    client_id: uuid.UUID | None = None,
    status_: Annotated[
        Literal["draft", "open", "paid", "void", "refunded"] | None, Query(alias="status")
    ] = None,
) -> Page[InvoiceOut]:
    items, cursor = await payments.list_invoices(
        session, principal=principal, paging=paging, client_id=client_id, status=status_
    )
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/invoices/{invoice_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the invoice as PDF"}},
)
async def invoice_pdf(
    invoice_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    invoice = await payments.access_invoice(session, principal=principal, invoice_id=invoice_id)
    out = await payments.invoice_out(session, invoice)
    gym = await catalogue.gym_of(session, invoice.gym_id)
    client = await identity.get_user(session, invoice.client_id) if invoice.client_id else None
    body = pdf.render(
        out,
        gym_name=gym.name,
        client_name=f"{client.first_name} {client.last_name}" if client else None,
    )
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="invoice-{invoice.number}.pdf"'},
    )


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(
    invoice_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> InvoiceOut:
    invoice = await payments.access_invoice(session, principal=principal, invoice_id=invoice_id)
    return await payments.invoice_out(session, invoice)


@router.post("/invoices/{invoice_id}/payments", response_model=InvoiceOut, responses=IDEMPOTENT)
async def pay_invoice(
    invoice_id: uuid.UUID,
    body: InvoicePaymentIn,
    key: IdempotencyKey,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> JSONResponse:
    """Staff record money taken at the desk against an open invoice (default: all of it)."""
    return await idempotency.run(
        session,
        scope=_scope(principal),
        key=key,
        request=request,
        body=body,
        status_code=200,
        call=lambda: payments.pay_invoice(
            session,
            rt,
            principal=principal,
            invoice_id=invoice_id,
            method=body.method,
            amount=body.amount,
        ),
    )


@router.post(
    "/invoices/{invoice_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundOut,
    responses=IDEMPOTENT,
)
async def refund(
    invoice_id: uuid.UUID,
    body: RefundIn,
    key: IdempotencyKey,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> JSONResponse:
    """Full (default) or partial refund, back the way the money came."""
    return await idempotency.run(
        session,
        scope=_scope(principal),
        key=key,
        request=request,
        body=body,
        call=lambda: payments.refund_invoice(
            session,
            rt,
            principal=principal,
            invoice_id=invoice_id,
            amount=body.amount,
            restock=body.restock,
            idempotency_key=_provider_key(principal, key),
        ),
    )


@router.get("/payments", response_model=Page[PaymentOut])
async def list_payments(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Paging,
    invoice_id: uuid.UUID | None = None,
) -> Page[PaymentOut]:
    rows, cursor = await payments.list_payments(
        session, principal=principal, paging=paging, invoice_id=invoice_id
    )
    return Page(items=[PaymentOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/entitlements", response_model=EntitlementOut)
async def entitlements(
    principal: CurrentPrincipal,
    session: DbSession,
    client_id: uuid.UUID | None = None,
    class_type: Annotated[str | None, Query(max_length=100)] = None,
) -> EntitlementOut:
    """May this client book a class now (plan allowance or class credits)?"""
    gym_id = catalogue.own_gym(principal)
    if not principal.is_staff:
        client_id = principal.user_id
    if client_id is None:
        raise Invalid("client_id is required", loc=["query", "client_id"])
    user = await identity.get_user(session, client_id)
    if user is None or user.gym_id != gym_id:
        raise NotFound("No such client")
    found = await ent.check(
        session, gym_id=gym_id, client_id=client_id, class_type=class_type, at=clock.now()
    )
    return EntitlementOut(
        allowed=found.allowed,
        source=found.source,
        reason=found.reason,
        subscription_id=found.subscription_id,
        remaining=found.remaining,
        credits=found.credits,
    )


# -- reports ---------------------------------------------------------------------------


@router.get("/reports/revenue", response_model=RevenueReport)
async def revenue_report(
    principal: CurrentPrincipal,
    session: DbSession,
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> RevenueReport:
    """Net revenue per category, day and month (gym's time zone), summed from the ledger."""
    if to < from_ or (to - from_).days > 3660:
        raise Invalid("'to' must be on or after 'from', at most 10 years on", loc=["query", "to"])
    return await reports.revenue(session, principal=principal, start=from_, end=to)


@router.get("/reports/ledger-check", response_model=LedgerCheck)
async def ledger_check(principal: CurrentPrincipal, session: DbSession) -> LedgerCheck:
    return await reports.ledger_check(session, principal=principal)


@router.get("/reports/summary", response_model=SummaryReport)
async def summary_report(principal: CurrentPrincipal, session: DbSession) -> SummaryReport:
    """MRR, members by status, failed payments, outstanding balances, stock value."""
    return await reports.summary(session, principal=principal)


# -- the processor and the scheduler ---------------------------------------------------


@router.post("/webhooks/{provider}", response_model=WebhookOut)
async def webhook(
    provider: Literal["card"], request: Request, session: DbSession, rt: Runtime
) -> WebhookOut:
    """Signed by the processor (``Stripe-Signature``); redeliveries are no-ops."""
    payload = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    result = await payments.receive_webhook(
        session, rt, provider=provider, payload=payload, headers=headers
    )
    return WebhookOut(**result)


@router.post("/jobs/run", response_model=dict[str, int])
async def run_jobs(request: Request, _admin: Admin, rt: Runtime) -> dict[str, int]:
    """Run renewals and dunning now (also: `fitsync billing run`, e.g. from cron)."""
    report = await tasks.run_all(request.app.state.container.sessionmaker, rt)
    return dict(report.__dict__)
