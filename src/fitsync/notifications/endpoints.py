"""Notifications' HTTP layer: the inbox, preferences and push subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from fitsync.kernel.auth import CurrentPrincipal
from fitsync.kernel.http import DbSession
from fitsync.kernel.pagination import Paging
from fitsync.notifications import service
from fitsync.notifications.schemas import (
    NotificationOut,
    NotificationPage,
    PreferencesIn,
    PreferencesOut,
    PushKeyOut,
    PushSubscriptionIn,
    PushSubscriptionOut,
    ReadAllOut,
)

router = APIRouter(tags=["notifications"])


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    unread: Annotated[bool, Query(description="Only unread notifications")] = False,
    type: Annotated[str | None, Query(description="Only this event type", max_length=100)] = None,
) -> NotificationPage:
    """The caller's in-app notifications, newest first, with the count of unread ones."""
    return await service.list_inbox(
        session, principal=principal, page=page, unread_only=unread, type_=type
    )


@router.post("/notifications/read-all", response_model=ReadAllOut)
async def read_all(principal: CurrentPrincipal, session: DbSession) -> ReadAllOut:
    return await service.mark_all_read(session, principal=principal)


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut)
async def read_one(
    notification_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> NotificationOut:
    return await service.mark_read(session, principal=principal, notification_id=notification_id)


@router.get("/users/me/notification-preferences", response_model=PreferencesOut)
async def get_preferences(principal: CurrentPrincipal, session: DbSession) -> PreferencesOut:
    """Channels per event type (``email``, ``push``, ``sms``, ``in_app``) and quiet hours."""
    return await service.get_preferences(session, principal=principal)


@router.put("/users/me/notification-preferences", response_model=PreferencesOut)
async def put_preferences(
    body: PreferencesIn, principal: CurrentPrincipal, session: DbSession
) -> PreferencesOut:
    return await service.put_preferences(session, principal=principal, body=body)


@router.get("/notifications/push-key", response_model=PushKeyOut)
async def push_key(request: Request) -> PushKeyOut:
    """The VAPID public key to pass as ``applicationServerKey`` to ``pushManager.subscribe``."""
    return PushKeyOut(public_key=request.app.state.container.notifications.vapid_public_key)


@router.post(
    "/users/me/push-subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=PushSubscriptionOut,
    responses={200: {"description": "The endpoint was known: its keys were updated"}},
)
async def add_push_subscription(
    body: PushSubscriptionIn,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    response: Response,
) -> PushSubscriptionOut:
    out, created = await service.add_push_subscription(
        session,
        principal=principal,
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        user_agent=request.headers.get("user-agent"),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.delete(
    "/users/me/push-subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def delete_push_subscription(
    subscription_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> None:
    await service.delete_push_subscription(
        session, principal=principal, subscription_id=subscription_id
    )
