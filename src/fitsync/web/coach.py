"""The trainer's pages: my clients, the exercise library (search as you type), the
workout and program builder, assigning a program, my schedule, my availability,
and the class roster's check-in (in ``member.class_page``, shared with the owner).
"""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import public as identity
from fitsync.kernel import clock
from fitsync.kernel.auth import Role
from fitsync.kernel.errors import AppError, Conflict, Forbidden, Invalid
from fitsync.kernel.pagination import PageParams
from fitsync.progress import analytics
from fitsync.progress import service as progress
from fitsync.scheduling import service as scheduling
from fitsync.scheduling.schemas import AvailabilityIn
from fitsync.training.schemas import Category, Level, ProgramIn, WorkoutIn
from fitsync.training.service import exercises, people, programs, workouts
from fitsync.web import pages
from fitsync.web.member import (
    class_view,
    cursor_page,
    describe_bookings,
    local_midnight,
    names_of,
    parse_day,
    today,
    tz_of,
)
from fitsync.web.pages import (
    TRAINER,
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

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
OFFERED_DURATIONS = [30, 45, 60, 90]
NOTICES = {
    "saved": "Workout saved.",
    "program": "Program created.",
    "assigned": "Program assigned: it is on your client's plan now.",
    "linked": "Client added.",
    "availability": "Your hours are saved.",
}
CLIENTS_PAGE = 25


def _trainer_only(who: Viewer) -> None:
    if who.principal.role is not Role.trainer:
        raise Forbidden("This page is for trainers")


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice") or "")


# -- home panel -------------------------------------------------------------------------


async def _today_panel(request: Request, who: Viewer, session: AsyncSession) -> dict[str, Any]:
    tz = tz_of(who)
    day = today(who)
    window = (local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))
    classes = await scheduling.list_classes(
        session,
        principal=who.principal,
        window_from=window[0],
        window_to=window[1],
        trainer_id=who.principal.user_id,
        page=PageParams(limit=50, after=None),
    )
    sessions = await scheduling.list_bookings(
        session,
        principal=who.principal,
        window_from=window[0],
        window_to=window[1],
        status="confirmed",
        page=PageParams(limit=50, after=None),
    )
    ones = [b for b in sessions.items if b.class_id is None]
    clients = await people.list_clients(
        session, principal=who.principal, trainer_id=who.principal.user_id
    )
    return {
        "classes": [c for c in classes.items if c.status == "scheduled"],
        "sessions": await describe_bookings(session, who, ones),
        "clients": len(clients),
    }


pages.HOME_PANELS.append(HomePanel(frozenset({TRAINER}), "panels/trainer_today.html", _today_panel))


# -- my clients -------------------------------------------------------------------------


@router.get("/clients", response_class=HTMLResponse)
async def clients_page(request: Request, who: SignedIn, page: int = 1) -> Response:
    """My clients with their adherence, last session and flags."""
    _trainer_only(who)
    assert who.principal.gym_id is not None
    page = max(1, page)
    now = clock.now()
    async with work(request, who) as session:
        links = await people.list_clients(
            session, principal=who.principal, trainer_id=who.principal.user_id
        )
        users = await identity.get_users(session, [link.client_id for link in links])
        everyone = sorted(users.values(), key=lambda u: (u.first_name, u.last_name, u.id))
        rows = []
        for user in everyone[(page - 1) * CLIENTS_PAGE : page * CLIENTS_PAGE]:
            last = await progress.list_workout_logs(
                session,
                principal=who.principal,
                client_id=user.id,
                since=None,
                until=None,
                page=PageParams(limit=1, after=None),
            )
            weeks = await analytics.adherence(
                session, principal=who.principal, client_id=user.id, weeks=4
            )
            rated = [w.adherence for w in weeks if w.adherence is not None]
            ratio = sum(rated) / len(rated) if rated else None
            last_at = last.items[0].performed_at if last.items else None
            flags = []
            if last_at is None:
                flags.append("No workouts yet")
            elif now - last_at > timedelta(days=14):
                flags.append("Inactive 2+ weeks")
            if ratio is not None and ratio < 0.6:
                flags.append("Low adherence")
            rows.append(
                {
                    "user": user,
                    "last_at": last_at,
                    "adherence": ratio,
                    "workouts": sum(w.workouts for w in weeks),
                    "flags": flags,
                }
            )
        linked = {link.client_id for link in links}
        others = [
            u
            for u in await identity.list_gym_users(session, who.principal.gym_id, "client")
            if u.id not in linked
        ]
    return await render(
        request,
        "clients.html",
        rows=rows,
        others=others,
        page=page,
        more=len(links) > page * CLIENTS_PAGE,
        total=len(links),
        notice=_notice(request),
    )


@router.post("/clients", response_class=HTMLResponse)
async def link_client(
    request: Request,
    who: SignedIn,
    client_id: Annotated[uuid.UUID, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    _trainer_only(who)
    async with work(request, who) as session:
        await people.link(
            session, principal=who.principal, trainer_id=who.principal.user_id, client_id=client_id
        )
    return redirect(request, "/clients?notice=linked")


# -- the exercise library ---------------------------------------------------------------


def _staff_only(who: Viewer) -> None:
    if who.principal.role not in (Role.trainer, Role.gym_owner):
        raise Forbidden("The library is for the gym's trainers")


async def _search(
    session: AsyncSession,
    who: Viewer,
    *,
    q: str,
    muscle: str,
    equipment: str,
    level: str,
    category: str,
    cursor: str | None,
    limit: int = 20,
) -> Any:
    return await exercises.list_exercises(
        session,
        principal=who.principal,
        page=cursor_page(cursor, limit),
        q=q.strip() or None,
        muscle=muscle or None,
        equipment=equipment or None,
        level=level if level in Level.__members__ else None,
        category=category if category in {c.value for c in Category} else None,
    )


@router.get("/library", response_class=HTMLResponse)
async def library_page(
    request: Request,
    who: SignedIn,
    q: str = "",
    muscle: str = "",
    equipment: str = "",
    level: str = "",
    category: str = "",
    cursor: str | None = None,
) -> Response:
    _staff_only(who)
    filters = {
        "q": q[:200],
        "muscle": muscle[:50],
        "equipment": equipment[:50],
        "level": level[:20],
        "category": category[:30],
    }
    async with work(request, who) as session:
        results = await _search(
            session,
            who,
            q=filters["q"],
            muscle=filters["muscle"],
            equipment=filters["equipment"],
            level=filters["level"],
            category=filters["category"],
            cursor=cursor,
        )
        muscles = await exercises.list_muscles(session)
        kinds = await exercises.list_equipment(session)
    context = {"results": results, "filters": filters}
    if request.headers.get("hx-request"):
        return await render(request, "partials/library_results.html", **context)
    return await render(
        request,
        "library.html",
        muscles=muscles,
        equipment=kinds,
        levels=[lv.value for lv in Level],
        categories=[c.value for c in Category],
        **context,
    )


# -- the builder ------------------------------------------------------------------------


@router.get("/builder/search", response_class=HTMLResponse)
async def builder_search(request: Request, who: SignedIn, q: str = "") -> Response:
    _staff_only(who)
    async with work(request, who) as session:
        results = await _search(
            session,
            who,
            q=q[:200],
            muscle="",
            equipment="",
            level="",
            category="",
            cursor=None,
            limit=8,
        )
    return await render(request, "partials/builder_results.html", results=results, q=q)


@router.get("/builder/row", response_class=HTMLResponse)
async def builder_row(request: Request, who: SignedIn, exercise_id: uuid.UUID) -> Response:
    _staff_only(who)
    async with work(request, who) as session:
        found = await exercises.get_exercise(
            session, principal=who.principal, exercise_id=exercise_id
        )
    return await render(
        request,
        "partials/builder_row.html",
        row={"exercise_id": found.id, "name": found.name, "sets": 3, "reps": 10, "rest": 90},
        key=uuid.uuid4().hex[:8],
    )


async def _builder_page(
    request: Request,
    who: Viewer,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    rows: list[dict[str, Any]] | None = None,
    values: dict[str, Any] | None = None,
    cursor: str | None = None,
) -> Response:
    _trainer_only(who)
    async with work(request, who) as session:
        mine = await workouts.list_workouts(
            session,
            principal=who.principal,
            page=cursor_page(cursor, 10),
            q=None,
            is_template=None,
            mine=True,
        )
        choices = await workouts.list_workouts(
            session,
            principal=who.principal,
            page=PageParams(limit=100, after=None),
            q=None,
            is_template=None,
            mine=False,
        )
        program_list = await programs.list_programs(
            session, principal=who.principal, page=PageParams(limit=50, after=None), q=None
        )
        links = await people.list_clients(
            session, principal=who.principal, trainer_id=who.principal.user_id
        )
        clients = await names_of(session, [link.client_id for link in links])
    return await render(
        request,
        "builder.html",
        status_code=status_code,
        errors=errors or {},
        rows=rows or [],
        values=values or {},
        workouts=mine,
        workout_choices=choices.items,
        programs=program_list.items,
        clients=sorted(clients.items(), key=lambda kv: kv[1]),
        today=today(who),
        notice=_notice(request),
        weekdays=range(1, 8),
    )


@router.get("/builder", response_class=HTMLResponse)
async def builder_page(request: Request, who: SignedIn, cursor: str | None = None) -> Response:
    return await _builder_page(request, who, cursor=cursor)


def _int(raw: str, default: int | None = None) -> int | None:
    raw = raw.strip()
    return int(raw) if raw else default


def _float(raw: str) -> float | None:
    raw = raw.strip()
    return float(raw) if raw else None


@router.post("/builder/workouts", response_class=HTMLResponse)
async def save_workout(
    request: Request,
    who: SignedIn,
    name: Annotated[str, Form()] = "",
    goal: Annotated[str, Form()] = "",
    exercise_id: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI reads it
    exercise_name: Annotated[list[str], Form()] = [],  # noqa: B006
    sets: Annotated[list[str], Form()] = [],  # noqa: B006
    reps: Annotated[list[str], Form()] = [],  # noqa: B006
    load: Annotated[list[str], Form()] = [],  # noqa: B006
    rest: Annotated[list[str], Form()] = [],  # noqa: B006
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Save the workout as built: the rows in their order on the page, day 1."""
    check_csrf(request, csrf_token)
    _trainer_only(who)
    rows = [
        {
            "exercise_id": exercise_id[i],
            "name": exercise_name[i] if i < len(exercise_name) else "",
            "sets": sets[i] if i < len(sets) else "",
            "reps": reps[i] if i < len(reps) else "",
            "load": load[i] if i < len(load) else "",
            "rest": rest[i] if i < len(rest) else "",
        }
        for i in range(len(exercise_id))
    ]
    errors: dict[str, str] = {}
    items = []
    for index, row in enumerate(rows):
        try:
            items.append(
                {
                    "exercise_id": uuid.UUID(row["exercise_id"]),
                    "day": 1,
                    "order": index + 1,
                    "sets": _int(row["sets"]),
                    "reps": _int(row["reps"]),
                    "load": _float(row["load"]),
                    "rest_seconds": _int(row["rest"], 60),
                }
            )
        except ValueError:
            errors[f"row-{index}"] = "Use numbers for sets, reps, kg and rest"
    if not rows:
        errors["exercises"] = "Add at least one exercise from the search"
    if not name.strip():
        errors["name"] = "Give the workout a name"
    if not errors:
        try:
            body = WorkoutIn.model_validate(
                {"name": name, "goal": goal or None, "exercises": items}
            )
            async with work(request, who) as session:
                await workouts.create_workout(session, principal=who.principal, values=body)
        except (ValidationError, Invalid) as exc:
            errors = _row_errors(exc)
    if errors:
        return await _builder_page(
            request,
            who,
            status_code=422,
            errors=errors,
            rows=rows,
            values={"name": name, "goal": goal},
        )
    return redirect(request, "/builder?notice=saved")


def _row_errors(exc: ValidationError | Invalid) -> dict[str, str]:
    """Schema errors of ``exercises[i]`` go next to row i; the others next to their field."""
    if isinstance(exc, Invalid):
        return field_errors(exc)
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = list(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] == "exercises" and isinstance(loc[1], int):
            field = f" ({loc[2]})" if len(loc) > 2 else ""
            found.setdefault(f"row-{loc[1]}", message + field)
        else:
            found.setdefault(str(loc[-1]) if loc else "form", message)
    return found


@router.post("/builder/programs", response_class=HTMLResponse)
async def save_program(
    request: Request,
    who: SignedIn,
    program_name: Annotated[str, Form()] = "",
    weeks: Annotated[str, Form()] = "4",
    day1: Annotated[str, Form()] = "",
    day2: Annotated[str, Form()] = "",
    day3: Annotated[str, Form()] = "",
    day4: Annotated[str, Form()] = "",
    day5: Annotated[str, Form()] = "",
    day6: Annotated[str, Form()] = "",
    day7: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """A program repeating the chosen workouts on the same days of every week."""
    check_csrf(request, csrf_token)
    _trainer_only(who)
    chosen = [day1, day2, day3, day4, day5, day6, day7]
    errors: dict[str, str] = {}
    try:
        count = int(weeks)
    except ValueError:
        count = 0
        errors["weeks"] = "A number of weeks"
    if not any(chosen):
        errors["day1"] = "Choose a workout for at least one day"
    if not errors:
        try:
            body = ProgramIn.model_validate(
                {
                    "name": program_name,
                    "duration_weeks": count,
                    "schedule": [
                        {"week": w, "day": d + 1, "workout_id": chosen[d]}
                        for w in range(1, min(max(count, 1), 104) + 1)
                        for d in range(7)
                        if chosen[d]
                    ],
                }
            )
            async with work(request, who) as session:
                await programs.create_program(session, principal=who.principal, values=body)
        except (ValidationError, Invalid) as exc:
            errors = field_errors(exc)
            if "name" in errors:
                errors["program_name"] = errors.pop("name")
            if "duration_weeks" in errors:
                errors["weeks"] = errors.pop("duration_weeks")
    if errors:
        return await _builder_page(
            request,
            who,
            status_code=422,
            errors=errors,
            values={"program_name": program_name, "weeks": weeks, "days": chosen},
        )
    return redirect(request, "/builder?notice=program#programs")


@router.post("/builder/assign", response_class=HTMLResponse)
async def assign(
    request: Request,
    who: SignedIn,
    program_id: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    start_date: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    _trainer_only(who)
    errors: dict[str, str] = {}
    if not program_id:
        errors["program_id"] = "Choose a program"
    if not client_id:
        errors["client_id"] = "Choose a client"
    try:
        start = date.fromisoformat(start_date)
    except ValueError:
        errors["start_date"] = "Choose a start date"
    if not errors:
        try:
            async with work(request, who) as session:
                await programs.assign_program(
                    session,
                    principal=who.principal,
                    program_id=uuid.UUID(program_id),
                    client_id=uuid.UUID(client_id),
                    start_date=start,
                )
        except (Conflict, Forbidden, Invalid, ValueError) as exc:
            errors["assign"] = exc.detail if isinstance(exc, AppError) else "Choose again"
    if errors:
        return await _builder_page(
            request,
            who,
            status_code=422,
            errors=errors,
            values={"program_id": program_id, "client_id": client_id, "start_date": start_date},
        )
    return redirect(request, "/builder?notice=assigned#assign")


# -- my schedule ------------------------------------------------------------------------


@router.get("/schedule", response_class=HTMLResponse)
async def schedule_page(
    request: Request, who: SignedIn, start: str | None = None, view: str = "week"
) -> Response:
    """The trainer's classes and 1:1 sessions for a day or a week."""
    _trainer_only(who)
    tz = tz_of(who)
    first = parse_day(start, today(who))
    days = 1 if view == "day" else 7
    window = (local_midnight(first, tz), local_midnight(first + timedelta(days=days), tz))
    async with work(request, who) as session:
        classes = await scheduling.list_classes(
            session,
            principal=who.principal,
            window_from=window[0],
            window_to=window[1],
            trainer_id=who.principal.user_id,
            page=PageParams(limit=100, after=None),
        )
        booked = await scheduling.list_bookings(
            session,
            principal=who.principal,
            window_from=window[0],
            window_to=window[1],
            status=None,
            page=PageParams(limit=100, after=None),
        )
        ones = [
            b for b in booked.items if b.class_id is None and b.status in ("confirmed", "attended")
        ]
        sessions = await describe_bookings(session, who, ones)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for c in classes.items:
        if c.status == "scheduled":
            by_day.setdefault(c.starts_at.astimezone(tz).date(), []).append(
                {"kind": "class", "at": c.starts_at, "item": c}
            )
    for s in sessions:
        by_day.setdefault(s["booking"].starts_at.astimezone(tz).date(), []).append(
            {"kind": "session", "at": s["booking"].starts_at, "item": s}
        )
    for entries in by_day.values():
        entries.sort(key=lambda e: e["at"])
    return await render(
        request,
        "schedule.html",
        days=[first + timedelta(days=i) for i in range(days)],
        by_day=by_day,
        view="day" if days == 1 else "week",
        start=first,
        prev_start=first - timedelta(days=days),
        next_start=first + timedelta(days=days),
        more=bool(classes.next_cursor or booked.next_cursor),
    )


# -- availability -----------------------------------------------------------------------


async def _availability_page(
    request: Request,
    who: Viewer,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    _trainer_only(who)
    async with work(request, who) as session:
        current = await scheduling.get_availability(
            session, principal=who.principal, trainer_id=who.principal.user_id
        )
    if form is None:
        hours: dict[int, tuple[str, str]] = {}
        extra = 0
        for rule in current.rules:
            if rule.weekday in hours:
                extra += 1
                continue
            hours[rule.weekday] = (
                rule.start_time.strftime("%H:%M"),
                rule.end_time.strftime("%H:%M"),
            )
        form = {
            "hours": hours,
            "durations": list(current.durations),
            "slot_minutes": current.slot_minutes,
            "extra": extra,
        }
    return await render(
        request,
        "availability.html",
        status_code=status_code,
        errors=errors or {},
        form=form,
        weekdays=list(enumerate(WEEKDAYS, start=1)),
        offered=sorted(set(OFFERED_DURATIONS) | set(form["durations"])),
        timezone=current.timezone,
        exceptions=current.exceptions,
        notice=_notice(request),
    )


@router.get("/availability", response_class=HTMLResponse)
async def availability_page(request: Request, who: SignedIn) -> Response:
    return await _availability_page(request, who)


@router.post("/availability", response_class=HTMLResponse)
async def save_availability(request: Request, who: SignedIn) -> Response:
    _trainer_only(who)
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    errors: dict[str, str] = {}
    rules = []
    hours: dict[int, tuple[str, str]] = {}
    for weekday, label in enumerate(WEEKDAYS, start=1):
        start = str(form.get(f"start{weekday}") or "").strip()
        end = str(form.get(f"end{weekday}") or "").strip()
        hours[weekday] = (start, end)
        if not start and not end:
            continue
        try:
            opens, closes = time.fromisoformat(start), time.fromisoformat(end)
        except ValueError:
            errors[f"day{weekday}"] = f"{label}: give a start and an end time, or neither"
            continue
        if closes <= opens:
            errors[f"day{weekday}"] = f"{label}: the end must be after the start"
            continue
        rules.append({"weekday": weekday, "start_time": opens, "end_time": closes})
    durations = sorted({int(str(d)) for d in form.getlist("durations") if str(d).isdigit()})
    if not durations:
        errors["durations"] = "Offer at least one session length"
    slot = str(form.get("slot_minutes") or "30")
    submitted = {
        "hours": {k: v for k, v in hours.items() if v[0] or v[1]},
        "durations": durations,
        "slot_minutes": int(slot) if slot.isdigit() else 30,
        "extra": 0,
    }
    if not errors:
        try:
            async with work(request, who) as session:
                current = await scheduling.get_availability(
                    session, principal=who.principal, trainer_id=who.principal.user_id
                )
                body = AvailabilityIn.model_validate(
                    {
                        "rules": rules,
                        "exceptions": [e.model_dump() for e in current.exceptions],
                        "breaks": [b.model_dump() for b in current.breaks],
                        "slot_minutes": submitted["slot_minutes"],
                        "durations": durations,
                    }
                )
                await scheduling.set_availability(
                    session, principal=who.principal, trainer_id=who.principal.user_id, body=body
                )
        except (ValidationError, Invalid) as exc:
            errors = field_errors(exc)
    if errors:
        return await _availability_page(
            request, who, status_code=422, errors=errors, form=submitted
        )
    return redirect(request, "/availability?notice=availability")


# -- the roster: attendance -------------------------------------------------------------


@router.post("/bookings/{booking_id}/check-in", response_class=HTMLResponse)
async def check_in(
    request: Request,
    booking_id: uuid.UUID,
    who: SignedIn,
    class_id: Annotated[uuid.UUID, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    return await _attendance(request, who, booking_id, class_id, no_show=False)


@router.post("/bookings/{booking_id}/no-show", response_class=HTMLResponse)
async def no_show(
    request: Request,
    booking_id: uuid.UUID,
    who: SignedIn,
    class_id: Annotated[uuid.UUID, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    return await _attendance(request, who, booking_id, class_id, no_show=True)


async def _attendance(
    request: Request, who: Viewer, booking_id: uuid.UUID, class_id: uuid.UUID, *, no_show: bool
) -> Response:
    mark = scheduling.mark_no_show if no_show else scheduling.check_in
    try:
        async with work(request, who) as session:
            await mark(session, principal=who.principal, booking_id=booking_id)
    except Conflict as exc:
        return await class_view(request, who, class_id, status_code=exc.status, error=exc.detail)
    return redirect(request, f"/classes/{class_id}?notice={'no_show' if no_show else 'checked_in'}")
