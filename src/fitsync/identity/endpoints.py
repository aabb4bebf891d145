"""Identity's HTTP layer: thin, one service call per endpoint."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.security import HTTPBearer

from fitsync.identity import service
from fitsync.identity.schemas import (
    AcceptInvitationIn,
    CreatedUserOut,
    CreateUserIn,
    LoginIn,
    RefreshIn,
    RegisterIn,
    RoleIn,
    TokenOut,
    UpdateMeIn,
    UserOut,
)
from fitsync.identity.service import IdentityRuntime
from fitsync.kernel.auth import CurrentPrincipal, Principal, Role, bearer_token, require_roles
from fitsync.kernel.db import transaction
from fitsync.kernel.errors import Unauthorized
from fitsync.kernel.http import DbSession
from fitsync.kernel.pagination import Page, Paging

router = APIRouter(tags=["identity"])


async def _rt(request: Request) -> IdentityRuntime:
    rt = request.app.state.container.identity
    assert isinstance(rt, IdentityRuntime)
    return rt


Runtime = Annotated[IdentityRuntime, Depends(_rt)]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterIn, session: DbSession, rt: Runtime) -> UserOut:
    return await service.register(session, rt, **body.model_dump())


@router.post("/auth/login", response_model=TokenOut)
async def login(body: LoginIn, request: Request, session: DbSession, rt: Runtime) -> TokenOut:
    return await service.login(
        session,
        rt,
        email=body.email,
        password=body.password,
        ip=_client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


@router.post("/auth/refresh", response_model=TokenOut)
async def refresh(body: RefreshIn, session: DbSession, rt: Runtime) -> TokenOut:
    return await service.refresh(session, rt, refresh_token=body.refresh_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, session: DbSession, rt: Runtime) -> None:
    await service.logout(session, rt, principal=principal)


@router.post("/auth/accept-invitation", response_model=UserOut)
async def accept_invitation(body: AcceptInvitationIn, session: DbSession, rt: Runtime) -> UserOut:
    return await service.accept_invitation(session, rt, token=body.token, password=body.password)


@router.get(
    "/users/me",
    response_model=UserOut,
    dependencies=[Depends(HTTPBearer(auto_error=False))],  # documents the auth scheme
)
async def me(request: Request, rt: Runtime) -> Response | UserOut:
    # The hot path: the token check and the cached profile in one Redis round trip.
    token = bearer_token(request)
    if token is None:
        raise Unauthorized()
    principal, (cached,) = await rt.tokens.authenticate_and_get(
        token, lambda p: [service.profile_key(rt, p.user_id)]
    )
    if cached is not None:
        return Response(cached, media_type="application/json")
    container = request.app.state.container
    async with transaction(container.sessionmaker, gym_id=principal.gym_id) as session:
        return await service.get_me(session, rt, principal=principal)


@router.put("/users/me", response_model=UserOut)
async def update_me(
    body: UpdateMeIn, principal: CurrentPrincipal, session: DbSession, rt: Runtime
) -> UserOut:
    return await service.update_me(
        session, rt, principal=principal, changes=body.model_dump(exclude_unset=True)
    )


@router.get("/users", response_model=Page[UserOut])
async def list_users(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    role: Annotated[Role | None, Query()] = None,
    gym_id: Annotated[uuid.UUID | None, Query(description="admins: one gym's users")] = None,
) -> Page[UserOut]:
    return await service.list_users(
        session, principal=principal, role=role, page=page, gym_id=gym_id
    )


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=CreatedUserOut)
async def create_user(
    body: CreateUserIn, principal: Admin, session: DbSession, rt: Runtime
) -> CreatedUserOut:
    user, link = await service.create_user(
        session, rt, actor_id=principal.user_id, **body.model_dump()
    )
    return CreatedUserOut(**user.model_dump(), invitation_url=link)


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> UserOut:
    return service.user_out(
        await service.access_user(session, principal=principal, user_id=user_id)
    )


@router.put("/users/{user_id}/role", response_model=UserOut)
async def change_role(
    user_id: uuid.UUID, body: RoleIn, _admin: Admin, session: DbSession, rt: Runtime
) -> UserOut:
    return await service.change_role(session, rt, user_id=user_id, role=body.role)
