"""The gym owner's pages: the dashboard's cards (today's classes and their fill rate, new
members, revenue) and the class schedule (create recurring classes, cancel them)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.billing import reports
from fitsync.identity import public as identity
from fitsync.identity import service as identity_service
from fitsync.kernel import clock
from fitsync.kernel.auth import Role
from fitsync.kernel.errors import Conflict, Forbidden, Invalid
from fitsync.kernel.pagination import PageParams
from fitsync.scheduling import service as scheduling
from fitsync.scheduling.schemas import ClassCancelIn, ClassIn
from fitsync.web import pages
from fitsync.web.member import cursor_page, local_midnight, names_of, today, tz_of
from fitsync.web.pages import (
    OWNER,
    HomePanel,
    SignedIn,
    Viewer,
    field_errors,
    owned_gym,
    page_link,
    redirect,
    render,
    work,
)
from fitsync.web.session import check_csrf

router = APIRouter(include_in_schema=False)

DAYS = [
    ("MO", "Mon"),
    ("TU", "Tue"),
    ("WE", "Wed"),
    ("TH", "Thu"),
    ("FR", "Fri"),
    ("SA", "Sat"),
    ("SU", "Sun"),
]
NOTICES = {
    "created": "Class scheduled: it is on the timetable now.",
    "cancelled": "Class cancelled; everyone booked was told.",
}


# -- dashboard cards --------------------------------------------------------------------


async def todays_classes(session: AsyncSession, who: Viewer) -> dict[str, Any]:
    tz = tz_of(who)
    day = today(who)
    found = await scheduling.list_classes(
        session,
        principal=who.principal,
        window_from=local_midnight(day, tz),
        window_to=local_midnight(day + timedelta(days=1), tz),
        trainer_id=None,
        page=PageParams(limit=100, after=None),
    )
    items = [c for c in found.items if c.status == "scheduled"]
    seats = sum(c.capacity for c in items)
    booked = sum(c.booked for c in items)
    trainers = await names_of(session, list({c.trainer_id for c in items}))
    return {
        "items": items,
        "trainers": trainers,
        "fill": booked / seats if seats else None,
        "booked": booked,
        "seats": seats,
    }


async def _dashboard(request: Request, who: Viewer, session: AsyncSession) -> dict[str, Any]:
    assert who.principal.gym_id is not None
    now = clock.now()
    day = today(who)
    data = await todays_classes(session, who)
    data["new_members"] = await identity.count_joined(
        session, who.principal.gym_id, "client", now - timedelta(days=30)
    )
    revenue = await reports.revenue(
        session, principal=who.principal, start=day - timedelta(days=29), end=day
    )
    summary = await reports.summary(session, principal=who.principal)
    data.update(revenue=revenue, summary=summary)
    return data


async def _owner_home(request: Request, who: Viewer, session: AsyncSession) -> dict[str, Any]:
    return await todays_classes(session, who)


pages.DASHBOARD_PANELS.append(
    HomePanel(frozenset({OWNER}), "panels/owner_dashboard.html", _dashboard)
)
pages.HOME_PANELS.append(HomePanel(frozenset({OWNER}), "panels/owner_today.html", _owner_home))


# -- members ----------------------------------------------------------------------------

MEMBERS_PAGE = 25


@router.get("/gyms/{gym_id}/members", response_class=HTMLResponse)
async def gym_members(
    request: Request,
    gym_id: uuid.UUID,
    who: SignedIn,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = MEMBERS_PAGE,
) -> Response:
    """The gym's clients, oldest first, a page at a time, each with a Message button."""
    async with work(request, who) as session:
        gym = await owned_gym(session, who, gym_id)
        found = await identity_service.list_users(
            session,
            principal=who.principal,
            role=Role.client,
            page=cursor_page(cursor, limit),
            gym_id=gym.id,
        )
    here, size = f"/gyms/{gym.id}/members", None if limit == MEMBERS_PAGE else limit
    return await render(
        request,
        "gym_members.html",
        gym=gym,
        members=found,
        first_page=page_link(here, limit=size) if cursor else None,
        next_page=page_link(here, limit=size, cursor=found.next_cursor)
        if found.next_cursor
        else None,
    )


# -- the class schedule -----------------------------------------------------------------


async def _schedule_page(
    request: Request,
    who: Viewer,
    gym_id: uuid.UUID,
    *,
    cursor: str | None = None,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with work(request, who) as session:
        gym = await owned_gym(session, who, gym_id)
        upcoming = await scheduling.list_classes(
            session,
            principal=who.principal,
            window_from=clock.now(),
            window_to=None,
            trainer_id=None,
            page=cursor_page(cursor, 15),
        )
        coaches = await identity.list_gym_users(session, gym.id, "trainer")
        coaches += await identity.list_gym_users(session, gym.id, "gym_owner")
        trainers = await names_of(session, list({c.trainer_id for c in upcoming.items}))
    tomorrow = today(who) + timedelta(days=1)
    return await render(
        request,
        "gym_classes.html",
        status_code=status_code,
        gym=gym,
        classes=upcoming,
        coaches=coaches,
        trainers=trainers,
        days=DAYS,
        errors=errors or {},
        values=values
        or {
            "first_date": tomorrow.isoformat(),
            "start_time": "18:00",
            "duration": "60",
            "capacity": "12",
            "weeks": "8",
            "days": [],
        },
        notice=NOTICES.get(request.query_params.get("notice") or ""),
    )


@router.get("/gyms/{gym_id}/classes", response_class=HTMLResponse)
async def gym_classes(
    request: Request, gym_id: uuid.UUID, who: SignedIn, cursor: str | None = None
) -> Response:
    return await _schedule_page(request, who, gym_id, cursor=cursor)


@router.post("/gyms/{gym_id}/classes", response_class=HTMLResponse)
async def create_class(request: Request, gym_id: uuid.UUID, who: SignedIn) -> Response:
    """A one-off class, or a weekly series on the chosen days for a number of weeks."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    values: dict[str, Any] = {
        key: str(form.get(key) or "").strip()
        for key in (
            "title",
            "trainer_id",
            "first_date",
            "start_time",
            "duration",
            "capacity",
            "location",
            "weeks",
        )
    }
    values["days"] = [str(d) for d in form.getlist("days") if str(d) in dict(DAYS)]
    errors: dict[str, str] = {}
    starts_at: datetime | None = None
    try:
        starts_at = datetime.combine(
            date.fromisoformat(values["first_date"]),
            time.fromisoformat(values["start_time"]),
            tzinfo=tz_of(who),
        )
    except ValueError:
        errors["first_date"] = "Give the first class's date and start time"
    recurrence = None
    if values["days"]:
        try:
            weeks = int(values["weeks"])
            if not 1 <= weeks <= 52:
                raise ValueError
        except ValueError:
            errors["weeks"] = "Between 1 and 52 weeks"
        else:
            assert starts_at is not None or errors
            recurrence = (
                f"FREQ=WEEKLY;BYDAY={','.join(values['days'])};COUNT={weeks * len(values['days'])}"
            )
    if not errors:
        try:
            body = ClassIn.model_validate(
                {
                    "title": values["title"],
                    "trainer_id": values["trainer_id"] or None,
                    "starts_at": starts_at,
                    "duration_minutes": values["duration"] or None,
                    "capacity": values["capacity"] or None,
                    "location": values["location"] or None,
                    "recurrence": recurrence,
                }
            )
            async with work(request, who) as session:
                await owned_gym(session, who, gym_id)
                await scheduling.create_class(session, principal=who.principal, body=body)
        except (ValidationError, Invalid, Conflict) as exc:
            errors = field_errors(exc)
            for api, name in (
                ("starts_at", "first_date"),
                ("duration_minutes", "duration"),
                ("recurrence", "days"),
            ):
                if api in errors:
                    errors[name] = errors.pop(api)
    if errors:
        return await _schedule_page(
            request, who, gym_id, status_code=422, errors=errors, values=values
        )
    return redirect(request, f"/gyms/{gym_id}/classes?notice=created")


@router.post("/gyms/{gym_id}/classes/{class_id}/cancel", response_class=HTMLResponse)
async def cancel_class(
    request: Request,
    gym_id: uuid.UUID,
    class_id: uuid.UUID,
    who: SignedIn,
    apply_to: Annotated[str, Form()] = "occurrence",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    choice = ClassCancelIn(apply_to="series" if apply_to == "series" else "occurrence")
    try:
        async with work(request, who) as session:
            await owned_gym(session, who, gym_id)
            await scheduling.cancel_class(
                session, principal=who.principal, class_id=class_id, apply_to=choice.apply_to
            )
    except (Conflict, Forbidden) as exc:
        return await _schedule_page(
            request, who, gym_id, status_code=exc.status, errors={"form": exc.detail}
        )
    return redirect(request, f"/gyms/{gym_id}/classes?notice=cancelled")
