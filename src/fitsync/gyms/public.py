"""What other contexts may use of gyms: read-only views of a tenant and its settings."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.gyms.models import Gym
from fitsync.gyms.schemas import GymOut as GymInfo
from fitsync.kernel.db import set_tenant

__all__ = ["GymInfo", "directory", "get_gym", "sole_gym_id"]


async def get_gym(session: AsyncSession, gym_id: uuid.UUID) -> GymInfo | None:
    """The gym, if the transaction's tenant may see it."""
    gym = await session.get(Gym, gym_id)
    return GymInfo.model_validate(gym) if gym else None


async def sole_gym_id(session: AsyncSession) -> uuid.UUID | None:
    """The id of the only gym, when there is exactly one (a single-gym installation)."""
    await set_tenant(session, None, all_gyms=True)
    ids = list((await session.execute(select(Gym.id).limit(2))).scalars())
    return ids[0] if len(ids) == 1 else None


class _Directory:
    """Gyms as identity sees them (identity.service.GymDirectory)."""

    async def exists(self, session: AsyncSession, gym_id: uuid.UUID) -> bool:
        return await session.get(Gym, gym_id) is not None

    async def sole_gym_id(self, session: AsyncSession) -> uuid.UUID | None:
        return await sole_gym_id(session)


directory = _Directory()
