"""Gyms' use cases: create a tenant, read and change it, invite its staff."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.gyms.models import Gym
from fitsync.gyms.schemas import GymCreatedOut, GymOut, GymSummary, StaffOut
from fitsync.identity import public as identity
from fitsync.kernel import clock
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import set_tenant
from fitsync.kernel.errors import Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import Page, PageParams, encode_cursor


async def create_gym(
    session: AsyncSession,
    identity_rt: identity.IdentityRuntime,
    *,
    principal: Principal,
    name: str,
    timezone: str,
    currency: str,
    address: str | None,
    owner_email: str | None,
    owner_first_name: str,
    owner_last_name: str,
) -> GymCreatedOut:
    gym = Gym(id=uuid.uuid4(), name=name, timezone=timezone, currency=currency, address=address)
    session.add(gym)
    await session.flush()
    owner, link = None, None
    if owner_email:
        owner, link = await identity.create_user(
            session,
            identity_rt,
            actor_id=principal.user_id,
            email=owner_email,
            first_name=owner_first_name,
            last_name=owner_last_name,
            role=Role.gym_owner,
            gym_id=gym.id,
            password=None,
        )
        await set_tenant(session, None, all_gyms=True)
    await session.refresh(gym)
    out = GymOut.model_validate(gym)
    return GymCreatedOut(**out.model_dump(), owner=owner, owner_invitation_url=link)


async def access_gym(session: AsyncSession, *, principal: Principal, gym_id: uuid.UUID) -> Gym:
    """The gym if the caller belongs to it (or is an admin); 404 otherwise."""
    if not principal.is_admin and principal.gym_id != gym_id:
        raise NotFound("No such gym")
    gym = await session.get(Gym, gym_id)
    if gym is None:
        raise NotFound("No such gym")
    return gym


def _require_owner(principal: Principal) -> None:
    if principal.role not in (Role.admin, Role.gym_owner):
        raise Forbidden("Only the gym's owner can do this")


async def update_gym(
    session: AsyncSession, *, principal: Principal, gym_id: uuid.UUID, changes: dict[str, Any]
) -> GymOut:
    gym = await access_gym(session, principal=principal, gym_id=gym_id)
    _require_owner(principal)
    for name, value in changes.items():
        if name in ("branding", "settings"):  # a partial update of a JSON document
            value = {**getattr(gym, name), **value}
        setattr(gym, name, value)
    gym.updated_at = clock.now()
    await session.flush()
    return GymOut.model_validate(gym)


async def add_staff(
    session: AsyncSession,
    identity_rt: identity.IdentityRuntime,
    *,
    principal: Principal,
    gym_id: uuid.UUID,
    email: str,
    first_name: str,
    last_name: str,
) -> StaffOut:
    """Create a trainer in the gym and return the link that lets them set a password."""
    await access_gym(session, principal=principal, gym_id=gym_id)
    _require_owner(principal)
    user, link = await identity.create_user(
        session,
        identity_rt,
        actor_id=principal.user_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=Role.trainer,
        gym_id=gym_id,
        password=None,
    )
    return StaffOut(user=user, invitation_url=link)


async def list_gyms(session: AsyncSession) -> list[GymSummary]:
    """The public directory (name, time zone, currency), e.g. for choosing a gym at sign-up."""
    return (await gyms_page(session, PageParams(limit=500, after=None))).items


async def gyms_page(session: AsyncSession, page: PageParams) -> Page[GymSummary]:
    """The directory by name, a page at a time (the admin console)."""
    await set_tenant(session, None, all_gyms=True)
    query = select(Gym).order_by(Gym.name, Gym.id).limit(page.limit + 1)
    if page.after:
        try:
            name, after_id = str(page.after[0]), uuid.UUID(str(page.after[1]))
        except (ValueError, IndexError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        query = query.where(tuple_(Gym.name, Gym.id) > (name, after_id))
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].name, str(rows[-1].id)]) if more else None
    return Page[GymSummary](items=[GymSummary.model_validate(g) for g in rows], next_cursor=cursor)


async def names_of(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Gym names by id in one query (e.g. which gym each user of a list belongs to)."""
    if not ids:
        return {}
    rows = await session.execute(select(Gym.id, Gym.name).where(Gym.id.in_(ids)))
    return {gym_id: name for gym_id, name in rows.tuples()}


async def count_member(session: AsyncSession, *, gym_id: uuid.UUID, role: str) -> None:
    column = Gym.member_count if role == Role.client.value else Gym.staff_count
    await session.execute(update(Gym).where(Gym.id == gym_id).values({column: column + 1}))
