"""Diet plans: energy targets, macros that must add up, meals, restrictions, assignments.

The 5 % agreement between the macros' energy and the stated calories is checked here
for a clear message and enforced by a CHECK constraint in PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import unique_violation
from fitsync.kernel.errors import Conflict, Invalid, NotFound
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.training.domain import (
    EnergyEstimate,
    estimate_energy,
    macro_calories,
    macros_disagreement,
)
from fitsync.training.models import DietAssignment, DietPlan
from fitsync.training.schemas import (
    DietAssignmentOut,
    DietPlanIn,
    DietPlanOut,
    EnergyIn,
    EnergyOut,
    MacrosOut,
)
from fitsync.training.service.people import access_client, staff_gym


def estimate(values: EnergyIn) -> EnergyOut:
    result: EnergyEstimate = estimate_energy(**values.model_dump())
    return EnergyOut.model_validate(result)


def _out(plan: DietPlan) -> DietPlanOut:
    return DietPlanOut(
        id=plan.id,
        gym_id=plan.gym_id,
        owner_id=plan.owner_id,
        name=plan.name,
        description=plan.description,
        calories=plan.calories,
        macros=MacrosOut(
            protein_g=plan.protein_g,
            carbs_g=plan.carbs_g,
            fat_g=plan.fat_g,
            calories_from_macros=macro_calories(
                protein_g=plan.protein_g, carbs_g=plan.carbs_g, fat_g=plan.fat_g
            ),
        ),
        meals=plan.meals,
        restrictions=plan.restrictions,
        energy=plan.energy,
        created_at=plan.created_at,
    )


async def create_diet_plan(
    session: AsyncSession, *, principal: Principal, values: DietPlanIn
) -> DietPlanOut:
    """Stated calories/macros win; missing ones come from the energy estimate."""
    gym_id = staff_gym(principal)
    energy = estimate(values.energy) if values.energy else None
    calories = values.calories or (energy.calories if energy else None)
    if calories is None:
        raise Invalid("give calories (or 'energy' to estimate them)", loc=["body", "calories"])
    if values.macros is not None:
        protein_g, carbs_g, fat_g = (
            values.macros.protein_g,
            values.macros.carbs_g,
            values.macros.fat_g,
        )
    elif energy is not None and values.calories in (None, energy.calories):
        protein_g, carbs_g, fat_g = energy.protein_g, energy.carbs_g, energy.fat_g
    else:
        raise Invalid("give macros (protein_g, carbs_g, fat_g)", loc=["body", "macros"])
    problem = macros_disagreement(
        calories=calories, protein_g=protein_g, carbs_g=carbs_g, fat_g=fat_g
    )
    if problem:
        raise Invalid(problem, loc=["body", "macros"])
    plan = DietPlan(
        id=uuid.uuid4(),
        gym_id=gym_id,
        owner_id=principal.user_id,
        name=values.name,
        description=values.description,
        calories=calories,
        protein_g=protein_g,
        carbs_g=carbs_g,
        fat_g=fat_g,
        meals=[m.model_dump(mode="json", exclude_none=True) for m in values.meals],
        restrictions=[str(r) for r in dict.fromkeys(values.restrictions)],
        energy=(
            {"inputs": values.energy.model_dump(mode="json"), "estimate": energy.model_dump()}
            if values.energy and energy
            else None
        ),
    )
    session.add(plan)
    await session.flush()
    await session.refresh(plan)
    return _out(plan)


async def _client_has_plan(session: AsyncSession, client_id: uuid.UUID, plan_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(DietAssignment.id)
        .where(DietAssignment.client_id == client_id, DietAssignment.diet_plan_id == plan_id)
        .limit(1)
    )
    return found is not None


async def access_diet_plan(
    session: AsyncSession, *, principal: Principal, plan_id: uuid.UUID
) -> DietPlan:
    plan = await session.get(DietPlan, plan_id)
    if plan is None or (not principal.is_admin and plan.gym_id != principal.gym_id):
        raise NotFound("No such diet plan")
    if principal.role is Role.client:
        if not await _client_has_plan(session, principal.user_id, plan_id):
            raise NotFound("No such diet plan")
    elif plan.deleted_at is not None:
        raise NotFound("No such diet plan")
    return plan


async def get_diet_plan(
    session: AsyncSession, *, principal: Principal, plan_id: uuid.UUID
) -> DietPlanOut:
    return _out(await access_diet_plan(session, principal=principal, plan_id=plan_id))


async def list_diet_plans(
    session: AsyncSession, *, principal: Principal, page: PageParams
) -> Page[DietPlanOut]:
    query = select(DietPlan).where(DietPlan.deleted_at.is_(None))
    if principal.role is Role.client:
        query = query.where(
            DietPlan.id.in_(
                select(DietAssignment.diet_plan_id).where(
                    DietAssignment.client_id == principal.user_id
                )
            )
        )
    elif not principal.is_admin:
        query = query.where(DietPlan.gym_id == principal.gym_id)
    if page.after:
        try:
            after = (datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1]))
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        query = query.where((DietPlan.created_at, DietPlan.id) < after)  # type: ignore[operator]
    query = query.order_by(DietPlan.created_at.desc(), DietPlan.id.desc()).limit(page.limit + 1)
    plans = list((await session.execute(query)).scalars())
    more = len(plans) > page.limit
    plans = plans[: page.limit]
    cursor = encode_cursor([plans[-1].created_at.isoformat(), str(plans[-1].id)]) if more else None
    return Page[DietPlanOut](items=[_out(p) for p in plans], next_cursor=cursor)


async def assign_diet_plan(
    session: AsyncSession,
    *,
    principal: Principal,
    plan_id: uuid.UUID,
    client_id: uuid.UUID,
    start_date: date,
) -> DietAssignmentOut:
    gym_id = staff_gym(principal)
    plan = await access_diet_plan(session, principal=principal, plan_id=plan_id)
    await access_client(session, principal=principal, client_id=client_id)
    assignment = DietAssignment(
        id=uuid.uuid4(),
        gym_id=gym_id,
        diet_plan_id=plan.id,
        client_id=client_id,
        assigned_by=principal.user_id,
        start_date=start_date,
    )
    session.add(assignment)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if unique_violation(exc):
            raise Conflict(
                "This diet plan is already assigned to this client from that date"
            ) from None
        raise
    await session.refresh(assignment)
    return DietAssignmentOut.model_validate(assignment)


async def my_diet_plans(session: AsyncSession, *, principal: Principal) -> list[DietAssignmentOut]:
    rows = await session.execute(
        select(DietAssignment)
        .where(DietAssignment.client_id == principal.user_id)
        .order_by(DietAssignment.start_date.desc(), DietAssignment.id)
        .limit(100)
    )
    return [DietAssignmentOut.model_validate(r) for r in rows.scalars()]
