"""Gyms' HTTP layer."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from fitsync.gyms import service
from fitsync.gyms.schemas import (
    GymCreatedOut,
    GymCreateIn,
    GymOut,
    GymSummary,
    GymUpdateIn,
    StaffIn,
    StaffOut,
)
from fitsync.identity.public import IdentityRuntime
from fitsync.kernel.auth import CurrentPrincipal, Principal, Role, require_roles
from fitsync.kernel.http import DbSession

router = APIRouter(tags=["gyms"])


async def _identity(request: Request) -> IdentityRuntime:
    rt = request.app.state.container.identity
    assert isinstance(rt, IdentityRuntime)
    return rt


Identity = Annotated[IdentityRuntime, Depends(_identity)]


@router.get("/gyms", response_model=list[GymSummary])
async def list_gyms(session: DbSession) -> list[GymSummary]:
    return await service.list_gyms(session)


@router.post("/gyms", status_code=status.HTTP_201_CREATED, response_model=GymCreatedOut)
async def create_gym(
    body: GymCreateIn,
    principal: Annotated[Principal, Depends(require_roles(Role.admin))],
    session: DbSession,
    identity_rt: Identity,
) -> GymCreatedOut:
    return await service.create_gym(session, identity_rt, principal=principal, **body.model_dump())


@router.get("/gyms/{gym_id}", response_model=GymOut)
async def get_gym(gym_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> GymOut:
    return GymOut.model_validate(
        await service.access_gym(session, principal=principal, gym_id=gym_id)
    )


@router.patch("/gyms/{gym_id}", response_model=GymOut)
async def update_gym(
    gym_id: uuid.UUID, body: GymUpdateIn, principal: CurrentPrincipal, session: DbSession
) -> GymOut:
    changes = body.model_dump(exclude_unset=True)
    return await service.update_gym(session, principal=principal, gym_id=gym_id, changes=changes)


@router.post("/gyms/{gym_id}/staff", status_code=status.HTTP_201_CREATED, response_model=StaffOut)
async def add_staff(
    gym_id: uuid.UUID,
    body: StaffIn,
    principal: CurrentPrincipal,
    session: DbSession,
    identity_rt: Identity,
) -> StaffOut:
    return await service.add_staff(
        session, identity_rt, principal=principal, gym_id=gym_id, **body.model_dump()
    )
