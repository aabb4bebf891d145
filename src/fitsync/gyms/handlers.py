"""Gyms' reactions to other contexts' events."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.gyms import service
from fitsync.identity import events as identity_events
from fitsync.kernel import outbox


@outbox.consumer("gyms.member-counts", types=[identity_events.USER_REGISTERED])
async def on_user_registered(session: AsyncSession, event: outbox.Event) -> None:
    """Keep the gym's member and staff counts (each event counted once)."""
    if event.gym_id is not None:
        await service.count_member(
            session, gym_id=uuid.UUID(str(event.gym_id)), role=str(event.data["role"])
        )
