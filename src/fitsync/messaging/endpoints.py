"""Messaging's HTTP layer and the live WebSocket ``GET /api/v1/ws``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket, status
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from fitsync.kernel import clock
from fitsync.kernel.auth import CurrentPrincipal, Principal
from fitsync.kernel.db import transaction
from fitsync.kernel.errors import AppError
from fitsync.kernel.http import DbSession
from fitsync.kernel.pagination import Paging
from fitsync.messaging import service
from fitsync.messaging.hub import Connection, LiveHub
from fitsync.messaging.schemas import (
    ConversationIn,
    ConversationOut,
    ConversationPage,
    MessageEditIn,
    MessageIn,
    MessageOut,
    MessagePage,
    ReadIn,
    ReadOut,
)
from fitsync.messaging.service import MessagingRuntime

router = APIRouter(tags=["messaging"])

AUTH_TIMEOUT_SECONDS = 10


async def _rt(request: Request) -> MessagingRuntime:
    rt = request.app.state.container.messaging
    assert isinstance(rt, MessagingRuntime)
    return rt


Runtime = Annotated[MessagingRuntime, Depends(_rt)]


@router.post(
    "/conversations",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationOut,
    responses={200: {"description": "The 1:1 conversation of this pair already existed"}},
)
async def create_conversation(
    body: ConversationIn,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
    response: Response,
) -> ConversationOut:
    out, created = await service.create_conversation(
        session, rt, principal=principal, participant_ids=body.participant_ids, title=body.title
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    principal: CurrentPrincipal, session: DbSession, rt: Runtime, page: Paging
) -> ConversationPage:
    return await service.list_conversations(session, rt, principal=principal, page=page)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, rt: Runtime
) -> ConversationOut:
    conv = await service.access_conversation(
        session, principal=principal, conversation_id=conversation_id
    )
    unread = await service.unread_counts(session, rt, principal=principal, ids=[conv.id])
    return service.conversation_out(conv, unread.get(conv.id, 0))


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageOut,
)
async def post_message(
    conversation_id: uuid.UUID,
    body: MessageIn,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> MessageOut:
    return await service.post_message(
        session,
        rt,
        principal=principal,
        conversation_id=conversation_id,
        text_=body.text,
        attachments=body.attachments,
    )


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    after: Annotated[uuid.UUID | None, Query(description="Messages after this one")] = None,
    before: Annotated[uuid.UUID | None, Query(description="Messages before this one")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MessagePage:
    return await service.list_messages(
        session,
        principal=principal,
        conversation_id=conversation_id,
        after=after,
        before=before,
        limit=limit,
    )


@router.patch("/conversations/{conversation_id}/messages/{message_id}", response_model=MessageOut)
async def edit_message(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    body: MessageEditIn,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> MessageOut:
    return await service.edit_message(
        session,
        rt,
        principal=principal,
        conversation_id=conversation_id,
        message_id=message_id,
        text_=body.text,
    )


@router.delete(
    "/conversations/{conversation_id}/messages/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_message(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> None:
    await service.delete_message(
        session, rt, principal=principal, conversation_id=conversation_id, message_id=message_id
    )


@router.post("/conversations/{conversation_id}/read", response_model=ReadOut)
async def mark_read(
    conversation_id: uuid.UUID,
    body: ReadIn,
    principal: CurrentPrincipal,
    session: DbSession,
    rt: Runtime,
) -> ReadOut:
    return await service.mark_read(
        session, rt, principal=principal, conversation_id=conversation_id, up_to=body.up_to
    )


# -- the WebSocket ---------------------------------------------------------------------

WS_DOC = """Live events for the caller, over a WebSocket (this plain GET answers 426).

Connect to `ws(s)://HOST/api/v1/ws?token=ACCESS_TOKEN[&after=MESSAGE_ID]`, or without
`token` and send `{"type": "auth", "token": "...", "after": "..."}` as the first frame
within 10 s. The server answers `{"type": "ready", "data": {"user_id", "cursor"}}` and
then sends frames `{"type", "data"}`:

- `message.sent` (data: a message, as in the messages endpoints, with its `seq`),
  in order, each once. With `after` (the id of the last message the client saw) a
  reconnecting client first gets every message it missed: no gaps, no duplicates.
- `message.updated`, `message.deleted`, `conversation.read`, `notification.created`,
  and whatever else is published to the user's live channel.

The client may send `{"type": "ping"}` (answered by `pong`) and, before its access
token expires, `{"type": "auth", "token": NEW_TOKEN}` to keep the socket open; at expiry
the socket closes with 4401. Close codes: 4401 not authenticated or token expired,
4400 bad `after`, 4403 platform admin (no gym), 4408 too slow to read its frames
(reconnect with `after`), 1008 bad first frame.
"""


@router.get(
    "/ws",
    status_code=status.HTTP_426_UPGRADE_REQUIRED,
    summary="Live events (WebSocket)",
    description=WS_DOC,
    responses={426: {"description": "Use a WebSocket client"}},
)
async def ws_doc() -> JSONResponse:
    return JSONResponse(
        {"detail": "Connect with a WebSocket client (see the API documentation)."},
        status_code=status.HTTP_426_UPGRADE_REQUIRED,
        headers={"Upgrade": "websocket"},
    )


def _expiry(token: str) -> float:
    """When an (already verified) access token stops being valid, as a Unix time."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"])


async def _first_frame(ws: WebSocket) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.receive_text(), timeout=AUTH_TIMEOUT_SECONDS)
    frame = json.loads(raw)
    if not isinstance(frame, dict) or frame.get("type") != "auth":
        raise ValueError('the first frame must be {"type": "auth", "token": ...}')
    return frame


async def _open(ws: WebSocket, principal: Principal, after: str | None) -> Connection | None:
    container = ws.app.state.container
    assert principal.gym_id is not None
    async with transaction(container.sessionmaker, gym_id=principal.gym_id) as session:
        if after:
            try:
                cursor = await service.seq_of(
                    session, user_id=principal.user_id, message_id=uuid.UUID(after)
                )
            except ValueError:
                cursor = None
            if cursor is None:
                await ws.close(code=4400, reason="unknown 'after' message")
                return None
        else:
            cursor = await service.latest_seq(session, principal.gym_id)
    return Connection(user_id=principal.user_id, gym_id=principal.gym_id, cursor=cursor)


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    container = ws.app.state.container
    hub: LiveHub = container.messaging_hub
    await ws.accept()
    token, after = ws.query_params.get("token"), ws.query_params.get("after")
    try:
        if not token:
            frame = await _first_frame(ws)
            token, after = str(frame.get("token") or ""), frame.get("after") or after
        principal = await container.tokens.authenticate(token)
    except AppError as exc:
        await ws.close(code=4401, reason=exc.detail[:120])
        return
    except (ValueError, TimeoutError, WebSocketDisconnect):
        with contextlib.suppress(RuntimeError):
            await ws.close(code=1008, reason="expected an auth frame")
        return
    if principal.gym_id is None:
        await ws.close(code=4403, reason="platform admins have no conversations")
        return
    conn = await _open(ws, principal, after)
    if conn is None:
        return
    await hub.register(conn, catch_up=True)  # also what committed while connecting
    await ws.send_text(
        json.dumps({"type": "ready", "data": {"user_id": str(conn.user_id), "cursor": conn.cursor}})
    )

    async def writer() -> None:
        while True:
            frame = await conn.queue.get()
            if conn.overflowed:
                await ws.close(code=4408, reason="too slow; reconnect with after=")
                return
            await ws.send_text(frame)

    expires_at = _expiry(token)
    renewed = asyncio.Event()

    async def reader() -> None:
        nonlocal expires_at
        while True:
            raw = await ws.receive_text()
            try:
                frame = json.loads(raw)
                kind = frame.get("type")
            except (ValueError, AttributeError):
                continue
            if kind == "ping":
                conn.push(json.dumps({"type": "pong", "data": {}}))
            elif kind == "auth":  # a fresh token for the same user keeps the socket open
                try:
                    again = await container.tokens.authenticate(str(frame.get("token") or ""))
                except AppError:
                    continue
                if again.user_id == principal.user_id:
                    expires_at = _expiry(str(frame["token"]))
                    renewed.set()

    async def expiry() -> None:
        while True:
            renewed.clear()
            left = expires_at - clock.now().timestamp()
            try:
                await asyncio.wait_for(renewed.wait(), timeout=max(0.0, left))
            except TimeoutError:
                await ws.close(code=4401, reason="token expired; reconnect with after=")
                return

    tasks = [
        asyncio.create_task(writer()),
        asyncio.create_task(reader()),
        asyncio.create_task(expiry()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await hub.unregister(conn)
        if ws.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await ws.close()
