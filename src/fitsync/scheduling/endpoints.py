"""Scheduling's HTTP layer: thin, one service call per endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from fitsync.bootstrap import Container
from fitsync.kernel import live
from fitsync.kernel.auth import CurrentPrincipal, Principal, optional_principal
from fitsync.kernel.errors import Unauthorized
from fitsync.kernel.http import DbSession
from fitsync.kernel.pagination import Page, Paging
from fitsync.scheduling import feeds, service
from fitsync.scheduling.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    BookingIn,
    BookingOut,
    BookingStatus,
    CalendarOut,
    ClassCancelIn,
    ClassCreatedOut,
    ClassIn,
    ClassOut,
    ClassUpdateIn,
    SlotsOut,
)

router = APIRouter(tags=["scheduling"])

From = Annotated[AwareDatetime | None, Query(alias="from", description="RFC 3339 with offset")]
To = Annotated[AwareDatetime | None, Query(alias="to", description="RFC 3339 with offset")]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]


def _container(request: Request) -> Container:
    container = request.app.state.container
    assert isinstance(container, Container)
    return container


App = Annotated[Container, Depends(_container)]


@router.put("/trainers/{trainer_id}/availability", response_model=AvailabilityOut)
async def set_availability(
    trainer_id: uuid.UUID, body: AvailabilityIn, principal: CurrentPrincipal, session: DbSession
) -> AvailabilityOut:
    """Replace the trainer's weekly hours, exceptions and breaks (gym-local times)."""
    return await service.set_availability(
        session, principal=principal, trainer_id=trainer_id, body=body
    )


@router.get("/trainers/{trainer_id}/availability", response_model=AvailabilityOut)
async def get_availability(
    trainer_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> AvailabilityOut:
    return await service.get_availability(session, principal=principal, trainer_id=trainer_id)


@router.get("/trainers/{trainer_id}/slots", response_model=SlotsOut)
async def list_slots(
    trainer_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    window_from: From = None,
    window_to: To = None,
    duration: Annotated[int, Query(ge=5, le=600, description="minutes")] = 60,
) -> SlotsOut:
    """Free bookable slots (default: the next 7 days; at most 62 days per request)."""
    return await service.list_slots(
        session,
        principal=principal,
        trainer_id=trainer_id,
        window_from=window_from,
        window_to=window_to,
        duration_minutes=duration,
    )


@router.post("/classes", status_code=status.HTTP_201_CREATED, response_model=ClassCreatedOut)
async def create_class(
    body: ClassIn, principal: CurrentPrincipal, session: DbSession
) -> ClassCreatedOut:
    """A one-off class, or a recurring one (``recurrence``: an RRULE, ≤ 500 occurrences)."""
    return await service.create_class(session, principal=principal, body=body)


@router.get("/classes", response_model=Page[ClassOut])
async def list_classes(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Paging,
    window_from: From = None,
    window_to: To = None,
    trainer_id: uuid.UUID | None = None,
) -> Page[ClassOut]:
    return await service.list_classes(
        session,
        principal=principal,
        window_from=window_from,
        window_to=window_to,
        trainer_id=trainer_id,
        page=paging,
    )


@router.get("/classes/{class_id}", response_model=ClassOut)
async def get_class(
    class_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ClassOut:
    return await service.get_class(session, principal=principal, class_id=class_id)


@router.patch("/classes/{class_id}", response_model=ClassOut)
async def update_class(
    class_id: uuid.UUID, body: ClassUpdateIn, principal: CurrentPrincipal, session: DbSession
) -> ClassOut:
    """Edit an occurrence, or (``apply_to: series``) it and the rest of its series."""
    return await service.update_class(session, principal=principal, class_id=class_id, body=body)


@router.post("/classes/{class_id}/cancel", response_model=ClassOut)
async def cancel_class(
    class_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    body: ClassCancelIn | None = None,
) -> ClassOut:
    """Cancel an occurrence (or the rest of its series) with all its bookings."""
    return await service.cancel_class(
        session,
        principal=principal,
        class_id=class_id,
        apply_to=body.apply_to if body else "occurrence",
    )


@router.get("/classes/{class_id}/bookings", response_model=list[BookingOut])
async def class_roster(
    class_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> list[BookingOut]:
    """The roster: for the class's trainer and the gym's owner."""
    return await service.list_roster(session, principal=principal, class_id=class_id)


@router.post("/bookings", status_code=status.HTTP_201_CREATED, response_model=BookingOut)
async def create_booking(
    body: BookingIn,
    principal: CurrentPrincipal,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """``{class_id}`` for a class seat (``join_waitlist`` when full), or ``{trainer_id,
    starts_at, duration_minutes}`` for a 1:1 session."""
    return await service.book(
        session, principal=principal, body=body, idempotency_key=idempotency_key
    )


@router.get("/bookings", response_model=Page[BookingOut])
async def list_bookings(
    principal: CurrentPrincipal,
    session: DbSession,
    paging: Paging,
    window_from: From = None,
    window_to: To = None,
    booking_status: Annotated[BookingStatus | None, Query(alias="status")] = None,
) -> Page[BookingOut]:
    """Clients: their own; trainers: their sessions'; gym owners: the gym's."""
    return await service.list_bookings(
        session,
        principal=principal,
        window_from=window_from,
        window_to=window_to,
        status=booking_status,
        page=paging,
    )


@router.get("/bookings/{booking_id}", response_model=BookingOut)
async def get_booking(
    booking_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> BookingOut:
    return await service.get_booking(session, principal=principal, booking_id=booking_id)


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut)
async def cancel_booking(
    booking_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> BookingOut:
    return await service.cancel_booking(session, principal=principal, booking_id=booking_id)


@router.post("/bookings/{booking_id}/check-in", response_model=BookingOut)
async def check_in(
    booking_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> BookingOut:
    return await service.check_in(session, principal=principal, booking_id=booking_id)


@router.post("/bookings/{booking_id}/no-show", response_model=BookingOut)
async def mark_no_show(
    booking_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> BookingOut:
    return await service.mark_no_show(session, principal=principal, booking_id=booking_id)


@router.get("/users/me/calendar", response_model=CalendarOut)
async def my_calendar(principal: CurrentPrincipal, session: DbSession, app: App) -> CalendarOut:
    """The caller's secret iCalendar feed URL."""
    return await feeds.my_feed(
        session,
        principal=principal,
        secret=app.settings.resolved_secret_key(),
        public_url=app.settings.public_url,
    )


@router.post("/users/me/calendar/rotate", response_model=CalendarOut)
async def rotate_calendar(principal: CurrentPrincipal, session: DbSession, app: App) -> CalendarOut:
    """A new secret feed URL; the old one stops working."""
    return await feeds.rotate_feed(
        session,
        principal=principal,
        secret=app.settings.resolved_secret_key(),
        public_url=app.settings.public_url,
    )


@router.get(
    "/calendar/{token}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar_feed(token: str, session: DbSession, app: App) -> Response:
    """The token's owner's bookings and sessions as an RFC 5545 calendar."""
    body = await feeds.render_feed(session, secret=app.settings.resolved_secret_key(), token=token)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


async def _stream_principal(
    request: Request, token: Annotated[str | None, Query(max_length=4096)] = None
) -> Principal:
    principal = await optional_principal(request)
    if principal is None and token:  # EventSource cannot send headers
        principal = await _container(request).tokens.authenticate(token)
    if principal is None:
        raise Unauthorized()
    return principal


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request, principal: Annotated[Principal, Depends(_stream_principal)], app: App
) -> StreamingResponse:
    """Server-Sent Events for the caller: seat counts of their gym's classes
    (``class.seats``) and whatever other contexts send to the caller."""
    channels = [live.user_channel(app.keys, principal.user_id)]
    if principal.gym_id is not None:
        channels.append(live.gym_channel(app.keys, principal.gym_id))

    async def events() -> AsyncIterator[str]:
        subscribed = False
        async for notice in live.listen(app.redis, channels):
            if await request.is_disconnected():
                return
            if notice is None:
                yield (
                    ": keep-alive\n\n" if subscribed else "retry: 3000\nevent: ready\ndata: {}\n\n"
                )
                subscribed = True
                continue
            data = json.dumps(notice.get("data", {}), separators=(",", ":"))
            yield f"event: {notice.get('type', 'message')}\ndata: {data}\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
