"""Who may do what in training: staff of a gym, and the trainer-client relation.

A client has zero or more trainers in their gym. A gym owner links any trainer of
the gym to any client of the gym; a trainer links (or unlinks) only themselves.
Trainers act only for their own clients; gym owners for every client of their gym.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import public as identity
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Forbidden, NotFound
from fitsync.training.models import TrainerClient
from fitsync.training.schemas import TrainerClientOut

WRITERS = frozenset({Role.trainer, Role.gym_owner})


def staff_gym(principal: Principal) -> uuid.UUID:
    """The gym a trainer or gym owner writes in; 403 for clients and for gym-less admins."""
    if principal.role not in WRITERS or principal.gym_id is None:
        raise Forbidden("Only a gym's trainers and owner can do this")
    return principal.gym_id


async def is_trainer_of(
    session: AsyncSession, *, trainer_id: uuid.UUID, client_id: uuid.UUID
) -> bool:
    query = select(
        exists().where(TrainerClient.trainer_id == trainer_id, TrainerClient.client_id == client_id)
    )
    return bool(await session.scalar(query))


async def access_member(
    session: AsyncSession, *, principal: Principal, user_id: uuid.UUID, role: Role
) -> identity.UserInfo:
    """A user of the caller's gym with the given role; 404 for anyone else."""
    user = await identity.get_user(session, user_id)
    same_gym = user is not None and (principal.is_admin or user.gym_id == principal.gym_id)
    if user is None or not same_gym or user.role is not role:
        raise NotFound(f"No such {role.value}")
    return user


async def access_client(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID
) -> identity.UserInfo:
    """A client the caller may act for: self, own client (trainer), any (owner, admin)."""
    if principal.role is Role.client and client_id != principal.user_id:
        raise NotFound("No such client")
    client = await access_member(session, principal=principal, user_id=client_id, role=Role.client)
    if principal.role is Role.trainer and not await is_trainer_of(
        session, trainer_id=principal.user_id, client_id=client_id
    ):
        raise Forbidden("Trainers act only for their own clients")
    return client


async def link(
    session: AsyncSession, *, principal: Principal, trainer_id: uuid.UUID, client_id: uuid.UUID
) -> tuple[TrainerClientOut, bool]:
    """Make ``trainer_id`` one of the client's trainers; returns (link, created)."""
    gym_id = staff_gym(principal)
    if principal.role is Role.trainer and trainer_id != principal.user_id:
        raise Forbidden("A trainer can only link themselves to a client")
    await access_member(session, principal=principal, user_id=trainer_id, role=Role.trainer)
    await access_member(session, principal=principal, user_id=client_id, role=Role.client)
    inserted = await session.scalar(
        insert(TrainerClient)
        .values(
            gym_id=gym_id, trainer_id=trainer_id, client_id=client_id, created_by=principal.user_id
        )
        .on_conflict_do_nothing()
        .returning(TrainerClient.trainer_id)
    )
    row = await session.get_one(TrainerClient, (trainer_id, client_id))
    return TrainerClientOut.model_validate(row), inserted is not None


async def unlink(
    session: AsyncSession, *, principal: Principal, trainer_id: uuid.UUID, client_id: uuid.UUID
) -> None:
    staff_gym(principal)
    if principal.role is Role.trainer and trainer_id != principal.user_id:
        raise Forbidden("A trainer can only unlink themselves from a client")
    result = await session.execute(
        delete(TrainerClient)
        .where(TrainerClient.trainer_id == trainer_id, TrainerClient.client_id == client_id)
        .returning(TrainerClient.trainer_id)
    )
    if result.first() is None:
        raise NotFound("This trainer is not linked to this client")


async def list_clients(
    session: AsyncSession, *, principal: Principal, trainer_id: uuid.UUID
) -> list[TrainerClientOut]:
    if principal.role is Role.client or (
        principal.role is Role.trainer and trainer_id != principal.user_id
    ):
        raise Forbidden("Only the trainer and the gym owner see a trainer's clients")
    await access_member(session, principal=principal, user_id=trainer_id, role=Role.trainer)
    rows = await session.execute(
        select(TrainerClient)
        .where(TrainerClient.trainer_id == trainer_id)
        .order_by(TrainerClient.created_at, TrainerClient.client_id)
        .limit(1000)
    )
    return [TrainerClientOut.model_validate(r) for r in rows.scalars()]


async def list_trainers(
    session: AsyncSession, *, principal: Principal, client_id: uuid.UUID
) -> list[TrainerClientOut]:
    if principal.role is Role.client and client_id != principal.user_id:
        raise NotFound("No such client")
    await access_member(session, principal=principal, user_id=client_id, role=Role.client)
    rows = await session.execute(
        select(TrainerClient)
        .where(TrainerClient.client_id == client_id)
        .order_by(TrainerClient.created_at, TrainerClient.trainer_id)
    )
    return [TrainerClientOut.model_validate(r) for r in rows.scalars()]
