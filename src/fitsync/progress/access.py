"""Who may see and change whose progress.

- A client: their own progress, all of it.
- Their trainer: everything of their clients, raw samples included; may log for them.
- The gym owner (and a platform admin): aggregates only — the analytics of a client and
  of the gym, never the raw entries, activities or samples.
- Anyone else, and every other gym: 404 (nothing leaks that a client exists).

"Their trainer" is decided by :func:`coaches` alone. The trainer-client relation belongs to
the training context, which is being built; until it offers one, every trainer of the
client's gym counts as theirs. Switch that one function when it lands.
"""

from __future__ import annotations

import enum
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import public as identity
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.errors import Forbidden, Invalid, NotFound
from fitsync.training import public as training


class Level(enum.Enum):
    aggregate = "aggregate"  # analytics: trends, weekly volume, load
    read = "read"  # entries, activities, samples
    write = "write"  # logging for the client


async def coaches(session: AsyncSession, principal: Principal, client: identity.UserInfo) -> bool:
    """Whether ``principal`` is one of ``client``'s trainers (training owns the relation)."""
    return (
        principal.role is Role.trainer
        and principal.gym_id == client.gym_id
        and await training.is_trainer_of(session, trainer_id=principal.user_id, client_id=client.id)
    )


async def subject(
    session: AsyncSession,
    principal: Principal,
    client_id: uuid.UUID | None,
    *,
    level: Level,
) -> identity.UserInfo:
    """The client whose progress the caller asks about, once the caller may see it."""
    if client_id is None or client_id == principal.user_id:
        if principal.role is Role.client:
            me = await identity.get_user(session, principal.user_id)
            if me is None:
                raise NotFound("No such client")
            return me
        if client_id is None:
            raise Invalid("client_id is required for staff", loc=["query", "client_id"])
    user = await identity.get_user(session, client_id)
    if (
        user is None
        or user.role is not Role.client
        or (not principal.is_admin and user.gym_id != principal.gym_id)
        or principal.role is Role.client
    ):
        raise NotFound("No such client")
    if await coaches(session, principal, user):
        return user
    if principal.role in (Role.gym_owner, Role.admin):
        if level is Level.aggregate:
            return user
        raise Forbidden("Gym owners see a client's progress as aggregates only (/analytics)")
    raise NotFound("No such client")
