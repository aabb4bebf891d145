"""HTTP plumbing shared by every context: the unit of work and the body-size cap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fitsync.kernel import live
from fitsync.kernel.auth import Principal, optional_principal
from fitsync.kernel.db import transaction
from fitsync.kernel.errors import problem


async def db_session(
    request: Request,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> AsyncIterator[AsyncSession]:
    """The request's unit of work, scoped to the caller's gym.

    Commits when the endpoint returns (before the response is sent), rolls back
    when it raises. Wakes the outbox relay when the transaction added events and
    publishes the live notices it queued.
    """
    container = request.app.state.container
    async with transaction(
        container.sessionmaker,
        gym_id=principal.gym_id if principal else None,
        all_gyms=bool(principal and principal.is_admin),
    ) as session:
        yield session
    if session.info.get("outbox_added"):
        container.bus.wake()
    await live.publish_pending(container.redis, container.keys, session)


DbSession = Annotated[AsyncSession, Depends(db_session, scope="function")]


class BodyLimit:
    """Answer 413 to request bodies over the limit, declared or streamed.

    ``overrides`` maps a path prefix to a larger limit (file uploads).
    """

    def __init__(self, app: ASGIApp, *, limit: int, overrides: dict[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.overrides = overrides or {}

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._too_large(scope, receive, send, limit)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"The request body is larger than {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(413, f"The request body is larger than {limit} bytes")
        await response(scope, receive, send)
