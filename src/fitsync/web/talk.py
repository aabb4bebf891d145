"""Communications pages: /messages (conversations with live updates), the unread messages
card on the home page, and the notification settings on /settings.

Live updates come as Server-Sent Events from the viewer's own Redis channel (what the
messaging context publishes after commit); the page then fetches the new rows as HTML.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import public as identity
from fitsync.kernel import live
from fitsync.kernel.errors import AppError, Forbidden, Invalid, NotFound
from fitsync.messaging import events as messaging_events
from fitsync.messaging import service as messaging
from fitsync.messaging.schemas import ConversationOut, MessageIn, MessageOut, MessagePage
from fitsync.messaging.service import MessagingRuntime
from fitsync.notifications import domain as notify
from fitsync.notifications import service as notifications
from fitsync.notifications.schemas import NotificationPage, PreferencesIn, PushSubscriptionIn
from fitsync.scheduling import public as scheduling
from fitsync.training import public as training
from fitsync.web import pages
from fitsync.web.member import cursor_page
from fitsync.web.pages import (
    CLIENT,
    OWNER,
    TRAINER,
    HomePanel,
    NavItem,
    SignedIn,
    Viewer,
    field_errors,
    redirect,
    render,
    work,
)
from fitsync.web.session import CSRF_HEADER, check_csrf

router = APIRouter(include_in_schema=False)
MEMBERS = frozenset({CLIENT, TRAINER, OWNER})  # platform admins belong to no gym
THREAD_PAGE = 50
LIST_PAGE = 20
LIVE_TYPES = {
    messaging_events.MESSAGE_SENT,
    messaging_events.MESSAGE_UPDATED,
    messaging_events.MESSAGE_DELETED,
}

pages.add_nav(NavItem("Messages", "/messages", MEMBERS), before="Admin")


def _rt(request: Request) -> MessagingRuntime:
    rt = request.app.state.container.messaging
    assert isinstance(rt, MessagingRuntime)
    return rt


def _member(who: Viewer) -> None:
    if who.principal.gym_id is None:
        raise NotFound("Messages belong to a gym; platform admins have none")


def title_of(conv: ConversationOut, who: Viewer) -> str:
    """What a conversation is called for the viewer: its title, else the others' names."""
    if conv.title:
        return conv.title
    others = [p.name for p in conv.participants if p.id != who.principal.user_id]
    return ", ".join(others) or "Just you"


async def contacts(session: AsyncSession, who: Viewer) -> dict[str, list[identity.UserInfo]]:
    """Whom the viewer may start a conversation with, grouped for the picker (the same
    rule as the API's: a client their own trainers and the front desk; staff anyone)."""
    assert who.principal.gym_id is not None
    gym_id, me = who.principal.gym_id, who.principal.user_id
    groups: dict[str, list[identity.UserInfo]] = {
        "Front desk": await identity.list_gym_users(session, gym_id, OWNER)
    }
    if who.role == CLIENT:
        mine = await identity.get_users(session, await training.trainer_ids_of(session, me))
        groups["Your trainers"] = sorted(mine.values(), key=lambda u: u.first_name)
    else:
        groups["Trainers"] = await identity.list_gym_users(session, gym_id, TRAINER)
        if who.role == TRAINER:
            mine = await identity.get_users(session, await training.client_ids_of(session, me))
            groups["Your clients"] = sorted(mine.values(), key=lambda u: u.first_name)
        else:
            groups["Members"] = await identity.list_gym_users(session, gym_id, CLIENT)
    return {
        label: [u for u in people if u.id != me and u.is_active]
        for label, people in groups.items()
        if any(u.id != me for u in people)
    }


# -- the list -------------------------------------------------------------------------


async def _list_view(
    request: Request,
    who: Viewer,
    cursor: str | None = None,
    status_code: int = 200,
    template: str = "messages.html",
    **extra: Any,
) -> Response:
    _member(who)
    async with work(request, who) as session:
        found = await messaging.list_conversations(
            session, _rt(request), principal=who.principal, page=cursor_page(cursor, LIST_PAGE)
        )
        people = await contacts(session, who) if template == "messages.html" else {}
    return await render(
        request,
        template,
        status_code=status_code,
        conversations=[(c, title_of(c, who)) for c in found.items],
        next_cursor=found.next_cursor,
        cursor=cursor,
        contacts=people,
        **extra,
    )


@router.get("/messages", response_class=HTMLResponse)
async def messages_page(request: Request, who: SignedIn, cursor: str | None = None) -> Response:
    return await _list_view(request, who, cursor)


@router.get("/messages/list", response_class=HTMLResponse)
async def conversation_list(request: Request, who: SignedIn, cursor: str | None = None) -> Response:
    """The list alone, for the page to refresh when a message arrives."""
    return await _list_view(request, who, cursor, template="partials/conversations.html")


@router.post("/messages", response_class=HTMLResponse)
async def start_conversation(
    request: Request,
    who: SignedIn,
    to: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    _member(who)
    try:
        other = uuid.UUID(to)
        async with work(request, who) as session:
            conv, _ = await messaging.create_conversation(
                session, _rt(request), principal=who.principal, participant_ids=[other], title=None
            )
    except ValueError:
        return await _list_view(request, who, status_code=422, errors={"to": "Choose someone"})
    except (Invalid, Forbidden) as exc:
        return await _list_view(request, who, status_code=exc.status, errors={"to": exc.detail})
    return redirect(request, f"/messages/{conv.id}")


# -- one conversation -----------------------------------------------------------------


def _rows(messages: list[MessageOut], conv: ConversationOut) -> list[dict[str, Any]]:
    names = {p.id: p.name for p in conv.participants}
    return [{"m": m, "sender": names.get(m.sender_id, "Someone")} for m in messages]


async def _thread(
    session: AsyncSession,
    request: Request,
    who: Viewer,
    conversation_id: uuid.UUID,
    *,
    after: uuid.UUID | None = None,
    before: uuid.UUID | None = None,
) -> tuple[ConversationOut, MessagePage]:
    """The conversation and a page of its messages; the viewer has then read the newest."""
    rt = _rt(request)
    row = await messaging.access_conversation(
        session, principal=who.principal, conversation_id=conversation_id
    )
    unread = await messaging.unread_counts(session, rt, principal=who.principal, ids=[row.id])
    conv = messaging.conversation_out(row, unread.get(row.id, 0))
    found = await messaging.list_messages(
        session,
        principal=who.principal,
        conversation_id=conv.id,
        after=after,
        before=before,
        limit=THREAD_PAGE,
    )
    if found.items and before is None and conv.unread_count:
        await messaging.mark_read(
            session, rt, principal=who.principal, conversation_id=conv.id, up_to=found.items[-1].id
        )
    return conv, found


async def _thread_view(
    request: Request,
    who: Viewer,
    conversation_id: uuid.UUID,
    before: uuid.UUID | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    _member(who)
    async with work(request, who) as session:
        conv, found = await _thread(session, request, who, conversation_id, before=before)
    return await render(
        request,
        "conversation.html",
        status_code=status_code,
        conv=conv,
        title=title_of(conv, who),
        rows=_rows(found.items, conv),
        older=found.before_cursor,
        newer=found.next_cursor,
        **extra,
    )


@router.get("/messages/live")
async def live_messages(request: Request, who: SignedIn) -> StreamingResponse:
    """The viewer's message events as Server-Sent Events (the session cookie is same-site
    only, so no other site's page can listen): ``{conversation_id}`` per change."""
    _member(who)
    container = request.app.state.container
    channels = [live.user_channel(container.keys, who.principal.user_id)]

    async def stream() -> AsyncIterator[str]:
        async for notice in live.listen(container.redis, channels):
            if await request.is_disconnected():
                return
            if notice is None:
                yield ": keep-alive\n\n"
                continue
            if notice.get("type") not in LIVE_TYPES:
                continue
            data = notice.get("data") or {}
            change = {"conversation_id": data.get("conversation_id"), "id": data.get("id")}
            yield f"event: message\ndata: {json.dumps(change)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/messages/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    request: Request, conversation_id: uuid.UUID, who: SignedIn, before: uuid.UUID | None = None
) -> Response:
    return await _thread_view(request, who, conversation_id, before)


@router.get("/messages/{conversation_id}/rows", response_class=HTMLResponse)
async def new_rows(
    request: Request, conversation_id: uuid.UUID, who: SignedIn, after: uuid.UUID | None = None
) -> Response:
    """The messages after one (else the latest), as rows for the open page, which has
    then read them."""
    _member(who)
    async with work(request, who) as session:
        conv, found = await _thread(session, request, who, conversation_id, after=after)
    return await render(request, "partials/message_rows.html", rows=_rows(found.items, conv))


@router.post("/messages/{conversation_id}", response_class=HTMLResponse)
async def send_message(
    request: Request,
    conversation_id: uuid.UUID,
    who: SignedIn,
    text: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    _member(who)
    try:
        body = MessageIn(text=text.strip())
    except ValidationError as exc:
        problem = field_errors(exc).get("text", "Write a message")
        if not text.strip():
            problem = "Write a message first"
        return await _thread_view(
            request, who, conversation_id, status_code=422, errors={"text": problem}, draft=text
        )
    async with work(request, who) as session:
        sent = await messaging.post_message(
            session,
            _rt(request),
            principal=who.principal,
            conversation_id=conversation_id,
            text_=body.text,
            attachments=[],
        )
    return redirect(request, f"/messages/{conversation_id}#m-{sent.id}")


# -- the home page card ---------------------------------------------------------------


async def _inbox_panel(request: Request, who: Viewer, session: AsyncSession) -> dict[str, Any]:
    if who.principal.gym_id is None:
        return {"unread": 0, "items": []}
    rt = _rt(request)
    found = await messaging.list_conversations(
        session, rt, principal=who.principal, page=cursor_page(None, 3)
    )
    unread = await messaging.total_unread(session, rt, principal=who.principal)
    return {"unread": unread, "items": [(c, title_of(c, who)) for c in found.items]}


pages.HOME_PANELS.append(HomePanel(MEMBERS, "panels/messages.html", _inbox_panel))


# -- in-app notifications -------------------------------------------------------------


def _items(page: NotificationPage) -> list[dict[str, Any]]:
    return [{"n": n, "href": f"/notifications/{n.id}/open"} for n in page.items]


async def _notifications_panel(
    request: Request, who: Viewer, session: AsyncSession
) -> dict[str, Any]:
    found = await notifications.list_inbox(
        session, principal=who.principal, page=cursor_page(None, 5)
    )
    return {"items": _items(found), "unread": found.unread}


pages.HOME_PANELS.append(HomePanel(MEMBERS, "panels/notifications.html", _notifications_panel))


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(
    request: Request, who: SignedIn, cursor: str | None = None
) -> Response:
    async with work(request, who) as session:
        found = await notifications.list_inbox(
            session, principal=who.principal, page=cursor_page(cursor, LIST_PAGE)
        )
    return await render(
        request,
        "notifications.html",
        items=_items(found),
        unread=found.unread,
        next_cursor=found.next_cursor,
    )


@router.get("/notifications/{notification_id}/open")
async def open_notification(
    request: Request, notification_id: uuid.UUID, who: SignedIn
) -> Response:
    """Mark it read and go where it points (a path of this site only)."""
    async with work(request, who) as session:
        item = await notifications.mark_read(
            session, principal=who.principal, notification_id=notification_id
        )
    target = urlsplit(str(item.data.get("url") or "/"))
    path = target.path if target.path.startswith("/") and not target.path.startswith("//") else "/"
    return redirect(request, path + (f"?{target.query}" if target.query else ""))


@router.post("/notifications/read-all")
async def read_all_notifications(
    request: Request,
    who: SignedIn,
    csrf_token: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/",
) -> Response:
    check_csrf(request, csrf_token)
    async with work(request, who) as session:
        await notifications.mark_all_read(session, principal=who.principal)
    return redirect(request, back if back in ("/", "/notifications") else "/")


# -- notification settings ------------------------------------------------------------

EVENT_LABELS = {
    "booking.created": "A booking is confirmed",
    "booking.cancelled": "A booking is cancelled",
    "booking.reminder": "Reminders before a class or session",
    "waitlist.promoted": "A waitlist place comes free for you",
    "class.cancelled": "A class you booked is cancelled",
    "program.assigned": "Your trainer assigns you a program",
    "achievement.earned": "You earn an achievement",
    "message.sent": "New messages (when you are not online)",
    "user.registered": "Welcome when you join",
}
CHANNEL_LABELS = {"email": "Email", "push": "Push", "sms": "SMS", "in_app": "In the app"}


async def _preferences(request: Request, who: Viewer, session: AsyncSession) -> dict[str, Any]:
    prefs = await notifications.get_preferences(session, principal=who.principal)
    return {
        "prefs": prefs,
        "push_key": request.app.state.container.notifications.vapid_public_key,
        "devices": await notifications.push_devices(session, principal=who.principal),
        "events": [(t, EVENT_LABELS.get(t, t), notify.SPECS[t].urgent) for t in notify.EVENT_TYPES],
        "channels": CHANNEL_LABELS,
    }


pages.SETTINGS_SECTIONS.append(
    HomePanel(MEMBERS, "panels/notification_settings.html", _preferences, wide=True)
)


@router.post("/settings/notifications", response_class=HTMLResponse)
async def save_notifications(request: Request, who: SignedIn) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    _member(who)
    chosen = {
        t: [str(c) for c in form.getlist(f"channels:{t}") if c in CHANNEL_LABELS]
        for t in notify.EVENT_TYPES
    }
    start, end = str(form.get("quiet_start") or ""), str(form.get("quiet_end") or "")
    phone = str(form.get("phone") or "").replace(" ", "") or None
    errors: dict[str, str] = {}
    if bool(start) != bool(end):
        errors["quiet_end" if start else "quiet_start"] = "Give both times, or neither"
    if phone is None and any("sms" in channels for channels in chosen.values()):
        errors["phone"] = "Add a mobile number to get text messages"
    body: PreferencesIn | None = None
    if not errors:
        try:
            body = PreferencesIn.model_validate(
                {
                    "events": chosen,
                    "quiet_hours": {"start": start, "end": end} if start else None,
                    "phone": phone,
                    "locale": str(form.get("locale") or "en"),
                }
            )
        except ValidationError as exc:
            located = field_errors(exc)
            for name, key in (("start", "quiet_start"), ("end", "quiet_end"), ("phone", "phone")):
                if name in located:
                    errors[key] = (
                        "Use a number like +4915112345678" if name == "phone" else located[name]
                    )
            errors = errors or {"notifications": next(iter(located.values()))}
    if body is None:
        return await pages.settings_view(
            request,
            who,
            status_code=422,
            errors=errors,
            notify_values={"quiet_start": start, "quiet_end": end, "phone": phone or ""},
            notify_chosen=chosen,
        )
    try:
        async with work(request, who) as session:
            await notifications.put_preferences(session, principal=who.principal, body=body)
    except AppError as exc:
        return await pages.settings_view(
            request, who, status_code=exc.status, errors={"notifications": exc.detail}
        )
    return redirect(request, "/settings?notice=notifications#notifications")


# -- push on this device --------------------------------------------------------------

SERVICE_WORKER = Path(__file__).parent / "static" / "sw.js"


@router.get("/sw.js")
async def service_worker() -> FileResponse:
    """The service worker that shows push notifications (served at the root for its scope)."""
    return FileResponse(
        SERVICE_WORKER, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.post("/settings/push")
async def turn_on_push(request: Request, who: SignedIn) -> JSONResponse:
    """Keep this browser's push subscription (``PushSubscription.toJSON()``)."""
    check_csrf(request, request.headers.get(CSRF_HEADER))
    _member(who)
    try:
        body = PushSubscriptionIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise Invalid(next(iter(field_errors(exc).values()), "Not a push subscription")) from None
    async with work(request, who) as session:
        _, created = await notifications.add_push_subscription(
            session,
            principal=who.principal,
            endpoint=body.endpoint,
            p256dh=body.keys.p256dh,
            auth=body.keys.auth,
            user_agent=request.headers.get("user-agent"),
        )
        devices = await notifications.push_devices(session, principal=who.principal)
    return JSONResponse({"devices": devices}, status_code=201 if created else 200)


@router.post("/settings/push/off")
async def turn_off_push(request: Request, who: SignedIn) -> JSONResponse:
    """Forget this browser's subscription (``{"endpoint": ...}``)."""
    check_csrf(request, request.headers.get(CSRF_HEADER))
    _member(who)
    try:
        endpoint = str(json.loads(await request.body())["endpoint"])
    except (ValueError, KeyError, TypeError):
        raise Invalid("Send the subscription's endpoint") from None
    async with work(request, who) as session:
        await notifications.forget_push_endpoint(
            session, principal=who.principal, endpoint=endpoint
        )
        devices = await notifications.push_devices(session, principal=who.principal)
    return JSONResponse({"devices": devices})


# -- where the links in emails and push notifications lead ----------------------------


@router.get("/settings/notifications")
async def notification_settings_link(request: Request, who: SignedIn) -> Response:
    return redirect(request, "/settings#notifications")


@router.get("/conversations/{conversation_id}")
async def conversation_link(
    request: Request, conversation_id: uuid.UUID, who: SignedIn
) -> Response:
    return redirect(request, f"/messages/{conversation_id}")


@router.get("/programs/{program_id}")
async def program_link(request: Request, program_id: uuid.UUID, who: SignedIn) -> Response:
    return redirect(request, "/plan" if who.role == CLIENT else "/builder")


@router.get("/progress/achievements")
async def achievements_link(request: Request, who: SignedIn) -> Response:
    return redirect(request, "/progress")


@router.get("/bookings/{booking_id}")
async def booking_link(request: Request, booking_id: uuid.UUID, who: SignedIn) -> Response:
    """A booking's page: its class, or the home page (1:1 sessions are listed there)."""
    async with work(request, who) as session:
        booking = await scheduling.get_booking(session, booking_id)
    mine = booking is not None and who.principal.user_id in (booking.client_id, booking.trainer_id)
    if booking is None or not (mine or who.role == OWNER):
        raise NotFound("No such booking")
    return redirect(request, f"/classes/{booking.class_id}" if booking.class_id else "/")
