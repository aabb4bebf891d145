"""The catalogue (plans, class packs, products, discount codes), stock and settings.

Also the small access rules every billing use case shares.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import domain, events
from fitsync.billing.models import (
    DiscountCode,
    DiscountRedemption,
    Pack,
    Plan,
    Product,
    Settings,
    StockMovement,
)
from fitsync.gyms import public as gyms
from fitsync.kernel import clock, outbox
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import unique_violation
from fitsync.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import PageParams, encode_cursor

T = TypeVar("T")

# -- access ----------------------------------------------------------------------------


def own_gym(principal: Principal) -> uuid.UUID:
    """The caller's gym; platform admins act on a gym only through its owner."""
    if principal.gym_id is None:
        raise Forbidden("This is done inside a gym, by its staff")
    return principal.gym_id


def require_staff(principal: Principal) -> uuid.UUID:
    if principal.role not in (Role.gym_owner, Role.trainer):
        raise Forbidden("Only the gym's staff can do this")
    return own_gym(principal)


def require_owner(principal: Principal) -> uuid.UUID:
    if principal.role is not Role.gym_owner:
        raise Forbidden("Only the gym's owner can do this")
    return own_gym(principal)


def visible(principal: Principal, gym_id: uuid.UUID, client_id: uuid.UUID | None) -> bool:
    """Staff see their gym's records, clients their own, admins all."""
    if principal.is_admin:
        return True
    if principal.gym_id != gym_id:
        return False
    return principal.is_staff or client_id == principal.user_id


async def gym_of(session: AsyncSession, gym_id: uuid.UUID) -> gyms.GymInfo:
    gym = await gyms.get_gym(session, gym_id)
    if gym is None:
        raise NotFound("No such gym")
    return gym


async def paged(
    session: AsyncSession, stmt: Select[Any], model: type[T], paging: PageParams
) -> tuple[list[T], str | None]:
    """Keyset pagination on ``(created_at, id)``, newest first."""
    created, ident = getattr(model, "created_at"), getattr(model, "id")  # noqa: B009
    if paging.after:
        at, last_id = datetime.fromisoformat(paging.after[0]), uuid.UUID(paging.after[1])
        stmt = stmt.where(or_(created < at, and_(created == at, ident < last_id)))
    rows: list[T] = list(
        (
            await session.scalars(
                stmt.order_by(created.desc(), ident.desc()).limit(paging.limit + 1)
            )
        ).all()
    )
    cursor = None
    if len(rows) > paging.limit:
        rows = rows[: paging.limit]
        last: Any = rows[-1]
        cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return rows, cursor


# -- settings --------------------------------------------------------------------------

DEFAULT_SETTINGS: dict[str, Any] = {
    "tax_mode": "inclusive",
    "dunning_retry_days": [1, 3, 7],
    "cancel_after_dunning": True,
    "manual_grace_days": 7,
    "late_cancel_fee": 0,
    "no_show_fee": 0,
    "fee_tax_rate_bp": 0,
}


async def get_settings(session: AsyncSession, gym_id: uuid.UUID) -> Settings:
    row = await session.get(Settings, gym_id)
    if row is None:
        row = Settings(gym_id=gym_id, **DEFAULT_SETTINGS)
    return row


async def settings_for(
    session: AsyncSession, gym_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Settings]:
    rows = {
        s.gym_id: s
        for s in (await session.scalars(select(Settings).where(Settings.gym_id.in_(gym_ids))))
    }
    return {g: rows.get(g) or Settings(gym_id=g, **DEFAULT_SETTINGS) for g in gym_ids}


async def update_settings(
    session: AsyncSession, *, principal: Principal, changes: dict[str, Any]
) -> Settings:
    gym_id = require_owner(principal)
    await session.execute(
        text("INSERT INTO billing.settings (gym_id) VALUES (:gym) ON CONFLICT (gym_id) DO NOTHING"),
        {"gym": gym_id},
    )
    row = await session.get(Settings, gym_id, populate_existing=True)
    assert row is not None
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = clock.now()
    await session.flush()
    return row


# -- plans and packs -------------------------------------------------------------------


async def _currency(session: AsyncSession, gym_id: uuid.UUID, given: str | None) -> str:
    return given or (await gym_of(session, gym_id)).currency


async def create_plan(session: AsyncSession, *, principal: Principal, **fields: Any) -> Plan:
    gym_id = require_owner(principal)
    fields["currency"] = await _currency(session, gym_id, fields.get("currency"))
    plan = Plan(gym_id=gym_id, active=True, created_at=clock.now(), **fields)
    session.add(plan)
    await session.flush()
    return plan


async def access_plan(session: AsyncSession, gym_id: uuid.UUID | None, plan_id: uuid.UUID) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None or (gym_id is not None and plan.gym_id != gym_id):
        raise NotFound("No such plan")
    return plan


async def list_plans(
    session: AsyncSession, *, principal: Principal, paging: PageParams
) -> tuple[list[Plan], str | None]:
    stmt = select(Plan)
    if not principal.is_admin:
        stmt = stmt.where(Plan.gym_id == own_gym(principal))
    return await paged(session, stmt, Plan, paging)


async def create_pack(session: AsyncSession, *, principal: Principal, **fields: Any) -> Pack:
    gym_id = require_owner(principal)
    fields["currency"] = await _currency(session, gym_id, fields.get("currency"))
    pack = Pack(gym_id=gym_id, active=True, created_at=clock.now(), **fields)
    session.add(pack)
    await session.flush()
    return pack


async def access_pack(session: AsyncSession, gym_id: uuid.UUID, pack_id: uuid.UUID) -> Pack:
    pack = await session.get(Pack, pack_id)
    if pack is None or pack.gym_id != gym_id:
        raise NotFound("No such class pack")
    return pack


async def list_packs(
    session: AsyncSession, *, principal: Principal, paging: PageParams
) -> tuple[list[Pack], str | None]:
    stmt = select(Pack)
    if not principal.is_admin:
        stmt = stmt.where(Pack.gym_id == own_gym(principal))
    return await paged(session, stmt, Pack, paging)


# -- products and stock ----------------------------------------------------------------


async def create_product(session: AsyncSession, *, principal: Principal, **fields: Any) -> Product:
    gym_id = require_owner(principal)
    fields["currency"] = await _currency(session, gym_id, fields.get("currency"))
    now = clock.now()
    product = Product(gym_id=gym_id, active=True, created_at=now, updated_at=now, **fields)
    try:
        async with session.begin_nested():
            session.add(product)
            await session.flush()
    except IntegrityError as exc:
        if unique_violation(exc):
            raise Conflict(f"A product with SKU {fields['sku']!r} exists already") from None
        raise
    if product.stock:
        session.add(
            StockMovement(
                gym_id=gym_id,
                product_id=product.id,
                delta=product.stock,
                reason="delivery",
                stock_after=product.stock,
                note="initial stock",
                actor_id=principal.user_id,
                created_at=now,
            )
        )
        await session.flush()
    return product


async def access_product(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID
) -> Product:
    if not (principal.is_staff or principal.is_admin):
        raise Forbidden("Only the gym's staff can see products")
    product = await session.get(Product, product_id)
    if product is None or not (principal.is_admin or product.gym_id == principal.gym_id):
        raise NotFound("No such product")
    return product


async def list_products(
    session: AsyncSession, *, principal: Principal, paging: PageParams, low_stock: bool = False
) -> tuple[list[Product], str | None]:
    if not (principal.is_staff or principal.is_admin):
        raise Forbidden("Only the gym's staff can see products")
    stmt = select(Product)
    if not principal.is_admin:
        stmt = stmt.where(Product.gym_id == own_gym(principal))
    if low_stock:
        stmt = stmt.where(Product.stock <= Product.low_stock_threshold)
    return await paged(session, stmt, Product, paging)


async def update_product(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID, changes: dict[str, Any]
) -> Product:
    require_owner(principal)
    product = await access_product(session, principal=principal, product_id=product_id)
    for name, value in changes.items():
        setattr(product, name, value)
    product.updated_at = clock.now()
    await session.flush()
    return product


async def move_stock(
    session: AsyncSession,
    *,
    gym_id: uuid.UUID,
    product_id: uuid.UUID,
    delta: int,
    reason: str,
    actor_id: uuid.UUID | None,
    invoice_id: uuid.UUID | None = None,
    note: str | None = None,
) -> StockMovement:
    """Change a product's stock atomically; refuses (409) to go below zero.

    ``UPDATE … WHERE stock + delta >= 0`` takes the row lock and re-checks the stock
    after waiting for it, so concurrent sales of the last item sell it once; the
    CHECK constraint ``stock >= 0`` backs it up.
    """
    row = (
        await session.execute(
            update(Product)
            .where(
                Product.id == product_id,
                Product.gym_id == gym_id,
                Product.stock + delta >= 0,
            )
            .values(stock=Product.stock + delta, updated_at=func.now())
            .returning(Product.stock, Product.low_stock_threshold, Product.sku, Product.name)
        )
    ).first()
    if row is None:
        exists = await session.scalar(
            select(Product.stock).where(Product.id == product_id, Product.gym_id == gym_id)
        )
        if exists is None:
            raise NotFound("No such product")
        raise Conflict("Not enough stock", product_id=str(product_id), stock=exists)
    stock, threshold, sku, name = row
    values = {
        "id": uuid.uuid4(),
        "gym_id": gym_id,
        "product_id": product_id,
        "delta": delta,
        "reason": reason,
        "stock_after": stock,
        "note": note,
        "invoice_id": invoice_id,
        "actor_id": actor_id,
        "created_at": clock.now(),
    }
    await session.execute(insert(StockMovement).values(**values))
    movement = StockMovement(**values)
    if delta < 0 and stock <= threshold < stock - delta:
        await outbox.add(
            session,
            outbox.Event(
                type=events.STOCK_LOW,
                gym_id=gym_id,
                actor_id=actor_id,
                data={
                    "product_id": str(product_id),
                    "sku": sku,
                    "name": name,
                    "stock": stock,
                    "threshold": threshold,
                },
            ),
        )
    return movement


async def adjust_stock(
    session: AsyncSession,
    *,
    principal: Principal,
    product_id: uuid.UUID,
    delta: int,
    reason: str,
    note: str | None,
) -> StockMovement:
    gym_id = require_owner(principal)
    await access_product(session, principal=principal, product_id=product_id)
    return await move_stock(
        session,
        gym_id=gym_id,
        product_id=product_id,
        delta=delta,
        reason=reason,
        actor_id=principal.user_id,
        note=note,
    )


async def list_stock_movements(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID, paging: PageParams
) -> tuple[list[StockMovement], str | None]:
    await access_product(session, principal=principal, product_id=product_id)
    stmt = select(StockMovement).where(StockMovement.product_id == product_id)
    return await paged(session, stmt, StockMovement, paging)


# -- discount codes --------------------------------------------------------------------


async def create_discount_code(
    session: AsyncSession, *, principal: Principal, **fields: Any
) -> DiscountCode:
    gym_id = require_owner(principal)
    fields["code"] = fields["code"].upper()
    if fields["kind"] == "amount":
        fields["currency"] = await _currency(session, gym_id, fields.get("currency"))
    code = DiscountCode(gym_id=gym_id, redemptions=0, created_at=clock.now(), **fields)
    try:
        async with session.begin_nested():
            session.add(code)
            await session.flush()
    except IntegrityError as exc:
        if unique_violation(exc):
            raise Conflict(f"The code {fields['code']!r} exists already") from None
        raise
    return code


async def list_discount_codes(
    session: AsyncSession, *, principal: Principal, paging: PageParams
) -> tuple[list[DiscountCode], str | None]:
    gym_id = require_staff(principal)
    stmt = select(DiscountCode).where(DiscountCode.gym_id == gym_id)
    return await paged(session, stmt, DiscountCode, paging)


async def redeem(
    session: AsyncSession,
    *,
    gym_id: uuid.UUID,
    code: str,
    client_id: uuid.UUID | None,
    currency: str,
    at: datetime,
) -> tuple[DiscountCode, domain.DiscountRule]:
    """Take one redemption of ``code`` (row-locked: limits hold under concurrency).

    Call :func:`record_redemption` once the invoice exists.
    """
    row = await session.scalar(
        select(DiscountCode)
        .where(DiscountCode.gym_id == gym_id, DiscountCode.code == code.upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    where: list[str | int] = ["body", "discount_code"]
    if row is None:
        raise Invalid("Unknown discount code", loc=where)
    if (row.valid_from and at < row.valid_from) or (row.valid_until and at >= row.valid_until):
        raise Invalid("This discount code is not valid now", loc=where)
    if row.kind == "amount" and row.currency != currency:
        raise Invalid("This discount code is in another currency", loc=where)
    if row.max_redemptions is not None and row.redemptions >= row.max_redemptions:
        raise Conflict("This discount code has been used up")
    if row.per_customer_limit is not None:
        if client_id is None:
            raise Invalid("This discount code needs a client", loc=["body", "client_id"])
        used = await session.scalar(
            select(func.count())
            .select_from(DiscountRedemption)
            .where(DiscountRedemption.code_id == row.id, DiscountRedemption.client_id == client_id)
        )
        if (used or 0) >= row.per_customer_limit:
            raise Conflict("This client has used this discount code as often as allowed")
    row.redemptions += 1
    rule = domain.DiscountRule(
        kind=domain.DiscountKind(row.kind),
        value=row.value,
        applies_to=frozenset(row.applies_to) if row.applies_to else None,
    )
    return row, rule


async def record_redemption(
    session: AsyncSession, code: DiscountCode, *, client_id: uuid.UUID | None, invoice_id: uuid.UUID
) -> None:
    await session.execute(
        insert(DiscountRedemption).values(
            gym_id=code.gym_id,
            code_id=code.id,
            client_id=client_id,
            invoice_id=invoice_id,
            created_at=clock.now(),
        )
    )
