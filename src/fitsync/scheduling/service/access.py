"""Who may do what in scheduling, and the gym's rules (time zone, buffer, windows)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.gyms import public as gyms
from fitsync.identity import public as identity
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import PageParams


@dataclass(frozen=True)
class GymRules:
    gym_id: uuid.UUID
    tz: ZoneInfo
    buffer: timedelta
    cancellation_window_hours: int
    horizon: timedelta


async def gym_rules(session: AsyncSession, gym_id: uuid.UUID) -> GymRules:
    gym = await gyms.get_gym(session, gym_id)
    if gym is None:
        raise NotFound("No such gym")
    return GymRules(
        gym_id=gym.id,
        tz=ZoneInfo(gym.timezone),
        buffer=timedelta(minutes=gym.settings.session_buffer_minutes),
        cancellation_window_hours=gym.settings.cancellation_window_hours,
        horizon=timedelta(days=gym.settings.booking_horizon_days),
    )


def visible(principal: Principal, gym_id: uuid.UUID | None) -> bool:
    return principal.is_admin or (gym_id is not None and gym_id == principal.gym_id)


async def gym_trainer(
    session: AsyncSession, principal: Principal, trainer_id: uuid.UUID
) -> identity.UserInfo:
    """A trainer (or the owner, who may train too) of the caller's gym; 404 otherwise."""
    user = await identity.get_user(session, trainer_id)
    if (
        user is None
        or not visible(principal, user.gym_id)
        or user.role not in (Role.trainer, Role.gym_owner)
        or not user.is_active
    ):
        raise NotFound("No such trainer in this gym")
    return user


async def booking_client(
    session: AsyncSession, principal: Principal, client_id: uuid.UUID | None, gym_id: uuid.UUID
) -> uuid.UUID:
    """Whom a booking is for: clients book for themselves, staff for a client of the gym."""
    if principal.role is Role.client:
        if client_id not in (None, principal.user_id):
            raise Forbidden("Clients book only for themselves")
        return principal.user_id
    if client_id is None:
        raise Invalid("Say which client the booking is for", loc=["body", "client_id"])
    user = await identity.get_user(session, client_id)
    if user is None or user.gym_id != gym_id or user.role is not Role.client:
        raise NotFound("No such client in this gym")
    return user.id


def require_staff_of(principal: Principal, trainer_id: uuid.UUID) -> None:
    """Trainers act on their own sessions; owners and admins on any of the gym."""
    if principal.role in (Role.gym_owner, Role.admin):
        return
    if principal.role is Role.trainer and principal.user_id == trainer_id:
        return
    raise Forbidden("Only the session's trainer or the gym's owner can do this")


def page_after(page: PageParams) -> tuple[datetime, uuid.UUID] | None:
    if not page.after:
        return None
    try:
        return datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1])
    except (ValueError, IndexError, TypeError):
        raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
