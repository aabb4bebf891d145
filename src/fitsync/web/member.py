"""The member's pages: home panels, the class timetable (live seats), booking a trainer,
the plan and logging against it, progress charts, watch-file uploads, one activity.

Every handler calls the same service functions as the JSON endpoints, in one unit of work
per request (``pages.work``); errors of those services become messages on the page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import public as identity
from fitsync.kernel import clock, live
from fitsync.kernel.auth import Role
from fitsync.kernel.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import PageParams, decode_cursor
from fitsync.progress import activities, analytics
from fitsync.progress import service as progress
from fitsync.progress.access import Level
from fitsync.progress.public import ProgressRuntime
from fitsync.progress.schemas import BodyMetricIn, WorkoutLogIn
from fitsync.scheduling import events as scheduling_events
from fitsync.scheduling import service as scheduling
from fitsync.scheduling.schemas import BookingIn, BookingOut, ClassOut
from fitsync.training.service import programs
from fitsync.web import pages
from fitsync.web.pages import (
    CLIENT,
    HomePanel,
    SignedIn,
    Viewer,
    field_errors,
    redirect,
    render,
    work,
)
from fitsync.web.session import check_csrf

router = APIRouter(include_in_schema=False)

NOTICES = {
    "booked": "You're booked in. See you there!",
    "waitlisted": "The class is full: you're on the waitlist and move in when a seat frees up.",
    "cancelled": "Your booking is cancelled.",
    "session": "Your session is booked.",
    "logged": "Workout logged. Nice work!",
    "weight": "Weight saved.",
    "checked_in": "Checked in.",
    "no_show": "Marked as a no-show.",
}
TIMETABLE_LIMIT = 100
PAGE = 10


def tz_of(who: Viewer) -> ZoneInfo:
    return ZoneInfo(who.gym.timezone) if who.gym else ZoneInfo("UTC")


def today(who: Viewer) -> date:
    return clock.now().astimezone(tz_of(who)).date()


def local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def parse_day(raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid("Not a date", loc=["query", "start"]) from None


def cursor_page(cursor: str | None, limit: int = PAGE) -> PageParams:
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


def notice_of(request: Request) -> str | None:
    code = request.query_params.get("notice")
    return NOTICES.get(code or "")


def safe_back(target: str, default: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else default


def _runtime(request: Request) -> ProgressRuntime:
    rt = request.app.state.container.progress
    assert isinstance(rt, ProgressRuntime)
    return rt


async def names_of(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    users = await identity.get_users(session, ids)
    return {uid: f"{u.first_name} {u.last_name}" for uid, u in users.items()}


# -- home panels ------------------------------------------------------------------------


async def upcoming(session: AsyncSession, who: Viewer, *, limit: int) -> list[dict[str, Any]]:
    """The viewer's next active bookings, with what they are for."""
    page = await scheduling.list_bookings(
        session,
        principal=who.principal,
        window_from=clock.now(),
        window_to=None,
        status=None,
        page=PageParams(limit=50, after=None),
    )
    active = [b for b in page.items if b.status in ("confirmed", "waitlisted")][:limit]
    return await describe_bookings(session, who, active)


async def describe_bookings(
    session: AsyncSession, who: Viewer, bookings: list[BookingOut]
) -> list[dict[str, Any]]:
    people = await names_of(
        session, [b.trainer_id for b in bookings] + [b.client_id for b in bookings]
    )
    titles = await scheduling.class_titles(
        session, principal=who.principal, class_ids={b.class_id for b in bookings if b.class_id}
    )
    return [
        {
            "booking": b,
            "title": titles.get(b.class_id, "") if b.class_id else "Personal training",
            "trainer": people.get(b.trainer_id, ""),
            "client": people.get(b.client_id, ""),
        }
        for b in bookings
    ]


async def _bookings_panel(request: Request, who: Viewer, session: AsyncSession) -> dict[str, Any]:
    return {"items": await upcoming(session, who, limit=5)}


async def _today_panel(request: Request, who: Viewer, session: AsyncSession) -> dict[str, Any]:
    day = today(who)
    plan = await programs.my_plan(session, principal=who.principal, start=day, end=day)
    return {"items": plan.items, "day": day}


async def _records_panel(request: Request, who: Viewer, session: AsyncSession) -> dict[str, Any]:
    latest = await analytics.latest_records(
        session, principal=who.principal, client_id=who.principal.user_id, limit=5
    )
    return {"items": latest}


pages.HOME_PANELS.extend(
    [
        HomePanel(frozenset({CLIENT}), "panels/next_bookings.html", _bookings_panel),
        HomePanel(frozenset({CLIENT}), "panels/today_workout.html", _today_panel),
        HomePanel(frozenset({CLIENT}), "panels/records.html", _records_panel),
    ]
)


# -- the timetable ----------------------------------------------------------------------


async def timetable(
    session: AsyncSession, who: Viewer, *, start: date, days: int, cursor: str | None
) -> dict[str, Any]:
    """The classes of ``days`` days from ``start`` (gym-local), with the viewer's bookings."""
    tz = tz_of(who)
    window_from = max(local_midnight(start, tz), clock.now())
    window_to = local_midnight(start + timedelta(days=days), tz)
    page = await scheduling.list_classes(
        session,
        principal=who.principal,
        window_from=window_from,
        window_to=window_to,
        trainer_id=None,
        page=cursor_page(cursor, TIMETABLE_LIMIT),
    )
    mine: dict[uuid.UUID, BookingOut] = {}
    if who.principal.role is Role.client and page.items:
        booked = await scheduling.list_bookings(
            session,
            principal=who.principal,
            window_from=page.items[0].starts_at,
            window_to=page.items[-1].starts_at + timedelta(seconds=1),
            status=None,
            page=PageParams(limit=100, after=None),
        )
        mine = {
            b.class_id: b
            for b in booked.items
            if b.class_id and b.status in ("confirmed", "waitlisted")
        }
    trainers = await names_of(session, list({c.trainer_id for c in page.items}))
    by_day: dict[date, list[ClassOut]] = {}
    for item in page.items:
        by_day.setdefault(item.starts_at.astimezone(tz).date(), []).append(item)
    return {
        "days": [start + timedelta(days=i) for i in range(days)],
        "by_day": by_day,
        "mine": mine,
        "trainers": trainers,
        "next_cursor": page.next_cursor,
        "count": len(page.items),
    }


async def _timetable_page(
    request: Request,
    who: Viewer,
    *,
    start: date | None = None,
    cursor: str | None = None,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    first = start or today(who)
    async with work(request, who) as session:
        data = await timetable(session, who, start=first, days=7, cursor=cursor)
    return await render(
        request,
        "classes.html",
        status_code=status_code,
        start=first,
        prev_start=first - timedelta(days=7),
        next_start=first + timedelta(days=7),
        is_today=first == today(who),
        notice=notice_of(request),
        error=error,
        **data,
    )


@router.get("/classes", response_class=HTMLResponse)
async def classes_page(
    request: Request, who: SignedIn, start: str | None = None, cursor: str | None = None
) -> Response:
    return await _timetable_page(request, who, start=parse_day(start, today(who)), cursor=cursor)


@router.post("/classes/{class_id}/book", response_class=HTMLResponse)
async def book_class(
    request: Request,
    class_id: uuid.UUID,
    who: SignedIn,
    join_waitlist: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/classes",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        async with work(request, who) as session:
            booking = await scheduling.book(
                session,
                principal=who.principal,
                body=BookingIn(class_id=class_id, join_waitlist=bool(join_waitlist)),
            )
    except (Conflict, Forbidden, Invalid) as exc:
        return await _timetable_page(request, who, status_code=exc.status, error=exc.detail)
    target = safe_back(back, "/classes")
    sep = "&" if "?" in target else "?"
    return redirect(request, f"{target}{sep}notice={booking.status.replace('confirmed', 'booked')}")


@router.post("/bookings/{booking_id}/cancel", response_class=HTMLResponse)
async def cancel_booking(
    request: Request,
    booking_id: uuid.UUID,
    who: SignedIn,
    back: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        async with work(request, who) as session:
            await scheduling.cancel_booking(session, principal=who.principal, booking_id=booking_id)
    except Conflict as exc:
        return await _timetable_page(request, who, status_code=exc.status, error=exc.detail)
    target = safe_back(back, "/")
    sep = "&" if "?" in target else "?"
    return redirect(request, f"{target}{sep}notice=cancelled")


@router.get("/classes/live")
async def live_seats(request: Request, who: SignedIn) -> StreamingResponse:
    """Seat counts of the viewer's gym as Server-Sent Events, authenticated by the session
    cookie (same-site only: SameSite=Lax cookies are not sent by other sites' EventSource)."""
    container = request.app.state.container
    if who.principal.gym_id is None:
        raise NotFound("No gym")
    channels = [live.gym_channel(container.keys, who.principal.gym_id)]

    async def events() -> AsyncIterator[str]:
        async for notice in live.listen(container.redis, channels):
            if await request.is_disconnected():
                return
            if notice is None:
                yield ": keep-alive\n\n"
                continue
            if notice.get("type") != scheduling_events.CLASS_SEATS:
                continue
            data = json.dumps(notice.get("data", {}), separators=(",", ":"))
            yield f"event: seats\ndata: {data}\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/classes/{class_id}", response_class=HTMLResponse)
async def class_page(request: Request, class_id: uuid.UUID, who: SignedIn) -> Response:
    """One class: its details; for its trainer and the owner, the roster with check-in."""
    return await class_view(request, who, class_id)


async def class_view(
    request: Request,
    who: Viewer,
    class_id: uuid.UUID,
    *,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    async with work(request, who) as session:
        found = await scheduling.get_class(session, principal=who.principal, class_id=class_id)
        roster: list[BookingOut] = []
        staff = who.principal.role is Role.gym_owner or (
            who.principal.role is Role.trainer and who.principal.user_id == found.trainer_id
        )
        if staff:
            roster = await scheduling.list_roster(
                session, principal=who.principal, class_id=class_id
            )
        mine = None
        if who.principal.role is Role.client:
            booked = await scheduling.list_bookings(
                session,
                principal=who.principal,
                window_from=found.starts_at,
                window_to=found.starts_at + timedelta(seconds=1),
                status=None,
                page=PageParams(limit=20, after=None),
            )
            mine = next(
                (
                    b
                    for b in booked.items
                    if b.class_id == class_id and b.status in ("confirmed", "waitlisted")
                ),
                None,
            )
        people = await names_of(session, [found.trainer_id] + [b.client_id for b in roster])
    return await render(
        request,
        "class.html",
        status_code=status_code,
        item=found,
        roster=roster,
        staff=staff,
        mine=mine,
        people=people,
        notice=notice_of(request),
        error=error,
        check_in_opens=found.starts_at - timedelta(hours=1),
        now=clock.now(),
    )


# -- trainers and 1:1 sessions ----------------------------------------------------------


@router.get("/trainers", response_class=HTMLResponse)
async def trainers_page(request: Request, who: SignedIn) -> Response:
    if who.principal.gym_id is None:
        raise NotFound("No gym")
    async with work(request, who) as session:
        trainers = await identity.list_gym_users(session, who.principal.gym_id, "trainer")
    return await render(request, "trainers.html", trainers=trainers)


async def _trainer_page(
    request: Request,
    who: Viewer,
    trainer_id: uuid.UUID,
    *,
    start: date | None,
    duration: int | None,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    tz = tz_of(who)
    first = start or today(who)
    async with work(request, who) as session:
        availability = await scheduling.get_availability(
            session, principal=who.principal, trainer_id=trainer_id
        )
        length = duration if duration in availability.durations else availability.durations[0]
        slots = await scheduling.list_slots(
            session,
            principal=who.principal,
            trainer_id=trainer_id,
            window_from=max(local_midnight(first, tz), clock.now()),
            window_to=local_midnight(first + timedelta(days=7), tz),
            duration_minutes=length,
        )
        trainer = (await identity.get_users(session, [trainer_id]))[trainer_id]
    by_day: dict[date, list[Any]] = {}
    for slot in slots.items:
        by_day.setdefault(slot.starts_at.astimezone(tz).date(), []).append(slot)
    return await render(
        request,
        "trainer.html",
        status_code=status_code,
        trainer=trainer,
        durations=availability.durations,
        duration=length,
        days=[first + timedelta(days=i) for i in range(7)],
        by_day=by_day,
        start=first,
        prev_start=first - timedelta(days=7),
        next_start=first + timedelta(days=7),
        is_today=first <= today(who),
        error=error,
    )


@router.get("/trainers/{trainer_id}", response_class=HTMLResponse)
async def trainer_page(
    request: Request,
    trainer_id: uuid.UUID,
    who: SignedIn,
    start: str | None = None,
    duration: int | None = None,
) -> Response:
    return await _trainer_page(
        request, who, trainer_id, start=parse_day(start, today(who)), duration=duration
    )


@router.post("/trainers/{trainer_id}/book", response_class=HTMLResponse)
async def book_trainer(
    request: Request,
    trainer_id: uuid.UUID,
    who: SignedIn,
    starts_at: Annotated[str, Form()] = "",
    duration: Annotated[int, Form()] = 60,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        when = datetime.fromisoformat(starts_at)
        if when.tzinfo is None:
            raise ValueError
        async with work(request, who) as session:
            await scheduling.book(
                session,
                principal=who.principal,
                body=BookingIn(trainer_id=trainer_id, starts_at=when, duration_minutes=duration),
            )
    except (ValueError, ValidationError, Conflict, Invalid, Forbidden) as exc:
        detail = exc.detail if isinstance(exc, AppError) else "Choose one of the free times"
        return await _trainer_page(
            request,
            who,
            trainer_id,
            start=None,
            duration=duration,
            status_code=exc.status if isinstance(exc, AppError) else 422,
            error=detail,
        )
    return redirect(request, "/?notice=session")


# -- the plan ---------------------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@router.get("/plan", response_class=HTMLResponse)
async def plan_page(request: Request, who: SignedIn, start: str | None = None) -> Response:
    if who.principal.role is not Role.client:
        raise Forbidden("The plan is a member's page")
    first = _monday(parse_day(start, today(who)))
    last = first + timedelta(days=13)
    tz = tz_of(who)
    async with work(request, who) as session:
        plan = await programs.my_plan(session, principal=who.principal, start=first, end=last)
        logs = await progress.list_workout_logs(
            session,
            principal=who.principal,
            client_id=None,
            since=local_midnight(first, tz),
            until=local_midnight(last + timedelta(days=1), tz),
            page=PageParams(limit=100, after=None),
        )
    done = {
        (log.workout_id, log.performed_at.astimezone(tz).date())
        for log in logs.items
        if log.workout_id
    }
    by_day: dict[date, list[Any]] = {}
    for item in plan.items:
        by_day.setdefault(item.date, []).append(item)
    return await render(
        request,
        "plan.html",
        days=[first + timedelta(days=i) for i in range(14)],
        by_day=by_day,
        done=done,
        today=today(who),
        start=first,
        prev_start=first - timedelta(days=14),
        next_start=first + timedelta(days=14),
        notice=notice_of(request),
        records=request.query_params.get("records"),
    )


async def _planned(
    session: AsyncSession,
    who: Viewer,
    *,
    day: date,
    assignment_id: uuid.UUID,
    workout_id: uuid.UUID,
) -> Any:
    plan = await programs.my_plan(session, principal=who.principal, start=day, end=day)
    for item in plan.items:
        if item.assignment_id == assignment_id and item.workout_id == workout_id:
            return item
    raise NotFound("This workout is not on your plan that day")


@router.get("/plan/log", response_class=HTMLResponse)
async def log_form(
    request: Request,
    who: SignedIn,
    day: str,
    assignment: uuid.UUID,
    workout: uuid.UUID,
) -> Response:
    if who.principal.role is not Role.client:
        raise Forbidden("Members log their own workouts")
    when = parse_day(day, today(who))
    async with work(request, who) as session:
        item = await _planned(session, who, day=when, assignment_id=assignment, workout_id=workout)
    return await render(request, "log.html", item=item, day=when, errors={})


@router.post("/plan/log", response_class=HTMLResponse)
async def log_workout(
    request: Request,
    who: SignedIn,
    day: Annotated[str, Form()],
    assignment: Annotated[uuid.UUID, Form()],
    workout: Annotated[uuid.UUID, Form()],
    exercise_id: Annotated[list[uuid.UUID], Form()],
    exercise_name: Annotated[list[str], Form()],
    sets: Annotated[list[str], Form()],
    reps: Annotated[list[str], Form()],
    load: Annotated[list[str], Form()],
    notes: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    when = parse_day(day, today(who))
    tz = tz_of(who)
    errors: dict[str, str] = {}
    entries = []
    for index, exercise in enumerate(exercise_id):
        try:
            count = int(sets[index] or 0)
            rep = int(reps[index]) if reps[index] else None
            kg = float(load[index]) if load[index] else None
        except (ValueError, IndexError):
            errors[f"row-{index}"] = "Use whole numbers for sets and reps, and a number for kg"
            continue
        if count < 0 or count > 100:
            errors[f"row-{index}"] = "Between 0 and 100 sets"
            continue
        if count:
            entries.append(
                {
                    "exercise_id": exercise,
                    "exercise_name": exercise_name[index][:200]
                    if index < len(exercise_name)
                    else None,
                    "sets": [{"reps": rep, "load_kg": kg}] * count,
                }
            )
    performed = datetime.combine(when, time(12), tzinfo=tz)
    if when == today(who):
        performed = min(clock.now(), performed).astimezone(tz)
    async with work(request, who) as session:
        item = await _planned(session, who, day=when, assignment_id=assignment, workout_id=workout)
    if not entries and not errors:
        errors["form"] = "Enter at least one set you did"
    if not errors:
        try:
            body = WorkoutLogIn.model_validate(
                {
                    "performed_at": performed,
                    "workout_id": workout,
                    "title": item.workout_name,
                    "notes": notes or None,
                    "entries": entries,
                }
            )
            async with work(request, who) as session:
                result = await progress.log_workout(
                    session, _runtime(request).catalog, principal=who.principal, body=body
                )
        except (ValidationError, Invalid) as exc:
            errors = field_errors(exc)
        else:
            records = len(result.log.records) if result.log else 0
            return redirect(request, f"/plan?start={when}&notice=logged&records={records}")
    return await render(request, "log.html", status_code=422, item=item, day=when, errors=errors)


# -- progress ---------------------------------------------------------------------------


async def _progress_page(
    request: Request,
    who: Viewer,
    *,
    cursor: str | None = None,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    existing_id: str | None = None,
) -> Response:
    if who.principal.role is not Role.client:
        raise Forbidden("Progress is a member's page; trainers open it from their clients")
    me = who.principal.user_id
    async with work(request, who) as session:
        trend = await progress.body_metric_trend(
            session, principal=who.principal, client_id=None, metric="weight_kg", days=180
        )
        volume = await analytics.weekly_volume(
            session, _runtime(request).catalog, principal=who.principal, client_id=me, weeks=12
        )
        history = await analytics.latest_records(
            session, principal=who.principal, client_id=me, limit=10
        )
        acts = await activities.list_activities(
            session, principal=who.principal, client_id=None, page=cursor_page(cursor)
        )
    ticks = max(1, len(volume) // 6)
    top = max((w.volume_kg for w in volume), default=0) or 1
    chart = {
        "t": [int(local_midnight(p.date, UTC).timestamp()) for p in trend.points],
        "value": [p.value for p in trend.points],
        "avg": [p.avg_7d for p in trend.points],
    }
    return await render(
        request,
        "progress.html",
        status_code=status_code,
        trend=trend,
        chart=chart,
        volume=volume,
        top_volume=top,
        tick_every=ticks,
        history=history,
        activities=acts,
        errors=errors or {},
        existing_id=existing_id,
        notice=notice_of(request),
        today=today(who),
    )


@router.get("/progress", response_class=HTMLResponse)
async def progress_page(request: Request, who: SignedIn, cursor: str | None = None) -> Response:
    return await _progress_page(request, who, cursor=cursor)


@router.post("/progress/weight", response_class=HTMLResponse)
async def add_weight(
    request: Request,
    who: SignedIn,
    weight_kg: Annotated[str, Form()] = "",
    measured_on: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        when = parse_day(measured_on, today(who))
        moment = datetime.combine(when, time(8), tzinfo=tz_of(who))
        body = BodyMetricIn.model_validate(
            {"measured_at": min(moment, clock.now()), "weight_kg": weight_kg or None}
        )
        if body.weight_kg is None:
            raise Invalid("Enter your weight", loc=["body", "weight_kg"])
        async with work(request, who) as session:
            await progress.add_body_metric(session, principal=who.principal, body=body)
    except (ValidationError, Invalid) as exc:
        return await _progress_page(request, who, status_code=422, errors=field_errors(exc))
    return redirect(request, "/progress?notice=weight")


@router.post("/progress/activities", response_class=HTMLResponse)
async def upload_activity(
    request: Request,
    who: SignedIn,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if not file.filename:
        return await _progress_page(
            request, who, status_code=422, errors={"file": "Choose a .fit, .gpx or .tcx file"}
        )
    container = request.app.state.container
    rt = _runtime(request)
    try:
        out = await activities.import_upload(
            container.sessionmaker,
            rt.store,
            principal=who.principal,
            stream=file.file,
            name=file.filename,
            size=file.size or 0,
            max_bytes=rt.max_upload_bytes,
            max_samples=rt.max_samples,
        )
    except AppError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return await _progress_page(
            request,
            who,
            status_code=exc.status,
            errors={"file": exc.detail},
            existing_id=exc.extra.get("existing_id"),
        )
    container.bus.wake()
    return redirect(request, f"/activities/{out.id}")


@router.get("/activities/{activity_id}", response_class=HTMLResponse)
async def activity_page(request: Request, activity_id: uuid.UUID, who: SignedIn) -> Response:
    rt = _runtime(request)
    async with work(request, who) as session:
        row = await activities.access_activity(
            session, principal=who.principal, activity_id=activity_id, level=Level.read
        )
        summary = activities.activity_out(row)
        span = (summary.ended_at - summary.started_at).total_seconds()
        every = max(1, int(span // 900))
        samples = await activities.activity_samples(
            session,
            rt.store,
            principal=who.principal,
            activity_id=activity_id,
            every_s=every,
            fields=("hr", "power"),
        )
    chart: dict[str, list[Any]] = {
        "t": [int(datetime.fromisoformat(s["t"]).timestamp()) for s in samples],
        "hr": [s.get("hr") for s in samples],
        "power": [s.get("power") for s in samples],
    }
    has_power = any(v is not None for v in chart["power"])
    has_hr = any(v is not None for v in chart["hr"])
    return await render(
        request,
        "activity.html",
        item=summary,
        chart=chart,
        has_power=has_power,
        has_hr=has_hr,
        every=every,
    )


# -- settings: the calendar feed --------------------------------------------------------


@router.post("/settings/calendar", response_class=HTMLResponse)
async def rotate_calendar(
    request: Request, who: SignedIn, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf_token)
    await pages.calendar_link(request, who, rotate=True)
    return redirect(request, "/settings?notice=rotated")
