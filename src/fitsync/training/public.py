"""What other contexts may use of training: the trainer-client relation, the library loader.

Progress, scheduling and messaging ask "is this trainer one of this client's trainers?"
here rather than reading training's tables.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.training import library
from fitsync.training.models import TrainerClient
from fitsync.training.service.people import is_trainer_of

__all__ = ["client_ids_of", "is_trainer_of", "load_library", "trainer_ids_of"]

load_library = library.load


async def trainer_ids_of(session: AsyncSession, client_id: uuid.UUID) -> list[uuid.UUID]:
    """The client's trainers (row-level security scopes it to the transaction's gym)."""
    rows = await session.execute(
        select(TrainerClient.trainer_id).where(TrainerClient.client_id == client_id)
    )
    return list(rows.scalars())


async def client_ids_of(session: AsyncSession, trainer_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(
        select(TrainerClient.client_id).where(TrainerClient.trainer_id == trainer_id)
    )
    return list(rows.scalars())
