"""What other contexts may use of identity: users as read-only DTOs, and a few commands."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import service
from fitsync.identity.models import User
from fitsync.identity.schemas import UserOut as UserInfo
from fitsync.identity.service import IdentityRuntime

__all__ = [
    "IdentityRuntime",
    "UserInfo",
    "count_joined",
    "create_user",
    "get_user",
    "get_users",
    "list_gym_users",
    "session_is_active",
]

create_user = service.create_user
session_is_active = service.session_is_active


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> UserInfo | None:
    """A user of the transaction's gym (row-level security applies), or None."""
    user = await session.get(User, user_id)
    return service.user_out(user) if user else None


async def get_users(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, UserInfo]:
    """Several users of the transaction's gym in one query, by id (missing ids are absent)."""
    if not ids:
        return {}
    rows = await session.execute(select(User).where(User.id.in_(set(ids))))
    return {u.id: service.user_out(u) for u in rows.scalars()}


async def list_gym_users(
    session: AsyncSession, gym_id: uuid.UUID, role: str, *, limit: int = 200
) -> list[UserInfo]:
    """Active users of a gym with a role, by name (e.g. the trainers a client can book)."""
    rows = await session.execute(
        select(User)
        .where(User.gym_id == gym_id, User.role == role, User.is_active.is_(True))
        .order_by(User.first_name, User.last_name, User.id)
        .limit(limit)
    )
    return [service.user_out(u) for u in rows.scalars()]


async def count_joined(session: AsyncSession, gym_id: uuid.UUID, role: str, since: datetime) -> int:
    """How many users with this role joined the gym since a time (new members)."""
    found = await session.scalar(
        select(func.count()).where(
            User.gym_id == gym_id, User.role == role, User.created_at >= since
        )
    )
    return int(found or 0)
