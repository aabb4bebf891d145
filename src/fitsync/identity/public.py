"""What other contexts may use of identity: users as read-only DTOs, and a few commands."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import service
from fitsync.identity.models import User
from fitsync.identity.schemas import UserOut as UserInfo
from fitsync.identity.service import IdentityRuntime

__all__ = ["IdentityRuntime", "UserInfo", "create_user", "get_user", "session_is_active"]

create_user = service.create_user
session_is_active = service.session_is_active


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> UserInfo | None:
    """A user of the transaction's gym (row-level security applies), or None."""
    user = await session.get(User, user_id)
    return service.user_out(user) if user else None
