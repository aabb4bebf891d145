"""Server-rendered pages: Jinja2 templates over the same services as the JSON API.

A page handler resolves the browser's session, calls one or a few service functions
and renders a template. Errors from the services become messages next to the form
field they concern (``errors[field]``) or an error page; other gyms' ids are 404s.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.gyms import public as gyms
from fitsync.gyms import service as gyms_service
from fitsync.gyms.schemas import GymCreateIn, GymUpdateIn, StaffIn
from fitsync.identity import service as identity
from fitsync.identity.schemas import UserOut
from fitsync.kernel import live
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import transaction
from fitsync.kernel.errors import AppError, Forbidden, Invalid, RateLimited, Unauthorized
from fitsync.kernel.pagination import PageParams, decode_cursor
from fitsync.scheduling import feeds

if TYPE_CHECKING:
    from fitsync.gyms.models import Gym

from fitsync.web.session import (
    browser_principal,
    check_csrf,
    csrf_token,
    forget_tokens,
    jar,
    keep_tokens,
)

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str  # may contain {gym_id} and {user_id}
    roles: frozenset[str]


CLIENT, TRAINER, OWNER, ADMIN = "client", "trainer", "gym_owner", "admin"

# The main navigation, in order, per role ("Home" first and "Settings" last are fixed).
# A context's pages add theirs with ``add_nav`` (e.g. communications: "Messages").
NAV: list[NavItem] = [
    NavItem("Classes", "/classes", frozenset({CLIENT, TRAINER, OWNER})),
    NavItem("Trainers", "/trainers", frozenset({CLIENT})),
    NavItem("Plan", "/plan", frozenset({CLIENT})),
    NavItem("Progress", "/progress", frozenset({CLIENT})),
    NavItem("Clients", "/clients", frozenset({TRAINER})),
    NavItem("Schedule", "/schedule", frozenset({TRAINER})),
    NavItem("Library", "/library", frozenset({TRAINER, OWNER})),
    NavItem("Builder", "/builder", frozenset({TRAINER})),
    NavItem("Availability", "/availability", frozenset({TRAINER})),
    NavItem("Gym", "/gyms/{gym_id}", frozenset({OWNER})),
    NavItem("Timetable", "/gyms/{gym_id}/classes", frozenset({OWNER})),
    NavItem("Members", "/gyms/{gym_id}/members", frozenset({OWNER})),
    NavItem("Admin", "/admin", frozenset({ADMIN})),
]


def add_nav(item: NavItem, *, before: str | None = None) -> None:
    """Add a navigation entry (at the end, or before the entry labelled ``before``)."""
    labels = [n.label for n in NAV]
    NAV.insert(labels.index(before) if before in labels else len(NAV), item)


PanelLoader = Callable[["Request", "Viewer", AsyncSession], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class HomePanel:
    """A card on the home page: a template fed by ``load`` (in the page's transaction).

    The template sees the loader's dict as ``data``; a context's pages register theirs
    with ``HOME_PANELS.append(...)`` (e.g. communications: unread messages)."""

    roles: frozenset[str]
    template: str
    load: PanelLoader | None = None
    wide: bool = False


HOME_PANELS: list[HomePanel] = []
DASHBOARD_PANELS: list[HomePanel] = []  # cards on the gym owner's dashboard (/gyms/{id})
SETTINGS_SECTIONS: list[HomePanel] = []  # cards on /settings (e.g. notification settings)


def nav_items(who: Viewer) -> list[NavItem]:
    gym_id = str(who.principal.gym_id or "")
    return [
        NavItem(
            item.label, item.href.format(gym_id=gym_id, user_id=who.principal.user_id), item.roles
        )
        for item in NAV
        if who.role in item.roles
    ]


def home_panels(who: Viewer) -> list[HomePanel]:
    return [panel for panel in HOME_PANELS if who.role in panel.roles]


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    user: UserOut
    gym: gyms.GymInfo | None

    @property
    def role(self) -> str:
        return self.principal.role.value


templates.env.globals.update(nav_items=nav_items, home_panels=home_panels)


def _zone(context: Any) -> ZoneInfo:
    who = context.get("viewer")
    return ZoneInfo(who.gym.timezone) if who is not None and who.gym else ZoneInfo("UTC")


@pass_context
def _local(context: Any, value: datetime | None, fmt: str = "%a %-d %b, %H:%M") -> str:
    """A time in the gym's time zone (``{{ b.starts_at|local }}``)."""
    if value is None:
        return ""
    return value.astimezone(_zone(context)).strftime(fmt)


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _money(minor: int | None, currency: str = "") -> str:
    if minor is None:
        return "\u2013"
    symbol = {"GBP": "£", "EUR": "€", "USD": "$"}.get(currency)
    amount = f"{minor / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}".strip()


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "\u2013"
    return f"{value:,.{digits}f}"


def _g(value: float | None) -> str:
    """A number without trailing zeros (80, 82.5)."""
    return "" if value is None else f"{value:g}"


templates.env.filters.update(local=_local, hms=_minutes, money=_money, number=_number, g=_g)


@asynccontextmanager
async def work(request: Request, who: Viewer) -> AsyncIterator[AsyncSession]:
    """The page's unit of work in the viewer's gym, as the API's ``DbSession``: commits at
    the end, then wakes the outbox relay and publishes the live notices it queued."""
    container = request.app.state.container
    async with transaction(
        container.sessionmaker,
        gym_id=who.principal.gym_id,
        all_gyms=who.principal.is_admin,
    ) as session:
        yield session
    if session.info.get("outbox_added"):
        container.bus.wake()
    await live.publish_pending(container.redis, container.keys, session)


async def optional_viewer(request: Request) -> Viewer | None:
    principal = await browser_principal(request)
    if principal is None:
        return None
    container = request.app.state.container
    async with transaction(
        container.sessionmaker, gym_id=principal.gym_id, all_gyms=principal.is_admin
    ) as session:
        user = await identity.get_me(session, container.identity, principal=principal)
        gym = await gyms.get_gym(session, principal.gym_id) if principal.gym_id else None
    request.state.viewer = Viewer(principal=principal, user=user, gym=gym)
    return request.state.viewer  # type: ignore[no-any-return]


async def viewer(request: Request) -> Viewer:
    found = await optional_viewer(request)
    if found is None:
        raise Unauthorized("Sign in to continue")  # pages turn this into /login?next=...
    return found


OptionalViewer = Annotated[Viewer | None, Depends(optional_viewer)]
SignedIn = Annotated[Viewer, Depends(viewer)]


async def render(
    request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("viewer", getattr(request.state, "viewer", None))
    context.setdefault("errors", {})
    context.setdefault("values", {})
    context["csrf"] = csrf_token(request)
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    jar(request).apply(request, response)
    return response


def redirect(request: Request, to: str) -> Response:
    response = RedirectResponse(to, status_code=303)
    jar(request).apply(request, response)
    return response


def field_errors(exc: AppError | ValidationError) -> dict[str, str]:
    """{field: message} for the form, from a service error or a schema error."""
    if isinstance(exc, ValidationError):
        return {
            str(e["loc"][-1]) if e["loc"] else "form": str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        }
    located = exc.extra.get("errors") or []
    found = {str(e["loc"][-1]): str(e["msg"]) for e in located if e.get("loc")}
    return found or {"form": exc.detail}


async def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    """Errors outside /api: readable pages (and sign-in for pages that need it)."""
    if status == 401:
        return redirect(request, f"/login?next={quote(request.url.path)}")
    return await render(request, "error.html", status_code=status, title=title, detail=detail)


# -- public pages ----------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, who: OptionalViewer) -> Response:
    if who is None:
        return await render(request, "landing.html")
    panels = home_panels(who)
    data: dict[str, dict[str, Any]] = {}
    async with work(request, who) as session:
        for panel in panels:
            data[panel.template] = await panel.load(request, who, session) if panel.load else {}
    return await render(request, "home.html", panels=panels, panel_data=data)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, who: OptionalViewer, next: str = "/") -> Response:
    if who is not None:
        return redirect(request, "/")
    return await render(request, "login.html", next=_safe_next(next))


def _safe_next(target: str) -> str:
    """Only same-site paths: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    check_csrf(request, csrf_token)
    container = request.app.state.container
    try:
        async with transaction(container.sessionmaker) as session:
            pair = await identity.login(
                session,
                container.identity,
                email=email,
                password=password,
                ip=request.client.host if request.client else "",
                user_agent=request.headers.get("user-agent"),
            )
    except (Unauthorized, RateLimited) as exc:
        return await render(
            request,
            "login.html",
            status_code=exc.status,
            errors={"form": exc.detail},
            values={"email": email},
            next=_safe_next(next),
        )
    keep_tokens(request, pair, container.settings.refresh_token_days)
    return redirect(request, _safe_next(next))


@router.get("/signup", response_class=HTMLResponse)
async def signup_form(request: Request, who: OptionalViewer) -> Response:
    if who is not None:
        return redirect(request, "/")
    return await render(request, "signup.html", gyms=await _directory(request))


async def _directory(request: Request) -> list[Any]:
    async with transaction(request.app.state.container.sessionmaker) as session:
        return await gyms_service.list_gyms(session)


@router.post("/signup", response_class=HTMLResponse)
async def signup(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    gym_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    container = request.app.state.container
    values = {"email": email, "first_name": first_name, "last_name": last_name, "gym_id": gym_id}
    try:
        from fitsync.identity.schemas import RegisterIn

        data = RegisterIn(
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            gym_id=uuid.UUID(gym_id) if gym_id else None,
        )
        async with transaction(container.sessionmaker) as session:
            await identity.register(session, container.identity, **data.model_dump())
        async with transaction(container.sessionmaker) as session:
            pair = await identity.login(
                session,
                container.identity,
                email=data.email,
                password=password,
                ip=request.client.host if request.client else "",
                user_agent=request.headers.get("user-agent"),
            )
    except (AppError, ValidationError, ValueError) as exc:
        errors = (
            field_errors(exc)
            if isinstance(exc, AppError | ValidationError)
            else {"gym_id": "Choose a gym"}
        )
        return await render(
            request,
            "signup.html",
            status_code=422 if not isinstance(exc, AppError) else exc.status,
            errors=errors,
            values=values,
            gyms=await _directory(request),
        )
    keep_tokens(request, pair, container.settings.refresh_token_days)
    container.bus.wake()
    return redirect(request, "/")


@router.post("/logout")
async def logout(
    request: Request, who: OptionalViewer, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf_token)
    if who is not None:
        container = request.app.state.container
        async with transaction(container.sessionmaker, all_gyms=True) as session:
            await identity.logout(session, container.identity, principal=who.principal)
    forget_tokens(request)
    return redirect(request, "/")


# -- settings --------------------------------------------------------------------------


async def calendar_link(request: Request, who: Viewer, *, rotate: bool = False) -> str | None:
    """The viewer's secret calendar-feed URL (a new one with ``rotate``)."""
    if who.principal.gym_id is None:
        return None
    settings = request.app.state.container.settings
    async with work(request, who) as session:
        call = feeds.rotate_feed if rotate else feeds.my_feed
        feed = await call(
            session,
            principal=who.principal,
            secret=settings.resolved_secret_key(),
            public_url=settings.public_url,
        )
    return feed.url


SETTINGS_NOTICES = {
    "saved": "Saved.",
    "rotated": "You have a new calendar link; the old one no longer works.",
    "notifications": "Your notification settings are saved.",
}


async def settings_view(request: Request, who: Viewer, **context: Any) -> Response:
    sections = [p for p in SETTINGS_SECTIONS if who.role in p.roles]
    data: dict[str, dict[str, Any]] = {}
    if sections:
        async with work(request, who) as session:
            for section in sections:
                loaded = await section.load(request, who, session) if section.load else {}
                data[section.template] = loaded
    context.setdefault("values", who.user.model_dump())
    return await render(
        request,
        "settings.html",
        calendar_url=await calendar_link(request, who),
        sections=sections,
        section_data=data,
        notice=SETTINGS_NOTICES.get(request.query_params.get("notice") or ""),
        **context,
    )


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, who: SignedIn) -> Response:
    return await settings_view(request, who)


@router.post("/settings", response_class=HTMLResponse)
async def save_settings(
    request: Request,
    who: SignedIn,
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    container = request.app.state.container
    from fitsync.identity.schemas import UpdateMeIn

    try:
        changes = UpdateMeIn(first_name=first_name, last_name=last_name)
    except ValidationError as exc:
        return await settings_view(
            request,
            who,
            status_code=422,
            errors=field_errors(exc),
            values={"first_name": first_name, "last_name": last_name, "email": who.user.email},
        )
    async with transaction(container.sessionmaker, gym_id=who.principal.gym_id) as session:
        await identity.update_me(
            session, container.identity, principal=who.principal, changes=changes.model_dump()
        )
    return redirect(request, "/settings?notice=saved")


# -- gym owner -------------------------------------------------------------------------


def _gym_session(request: Request, who: Viewer) -> Any:
    return transaction(
        request.app.state.container.sessionmaker,
        gym_id=who.principal.gym_id,
        all_gyms=who.principal.is_admin,
    )


async def owned_gym(session: AsyncSession, who: Viewer, gym_id: uuid.UUID) -> Gym:
    """The gym of an owner's page: 404 for another gym's id, 403 for its staff and members."""
    gym = await gyms_service.access_gym(session, principal=who.principal, gym_id=gym_id)
    if who.principal.role not in (Role.gym_owner, Role.admin):
        raise Forbidden("Only the gym's owner can open this page")
    return gym


def page_link(path: str, **query: object) -> str:
    """``path`` with the query parameters that are set (None and "" are left out)."""
    kept = urlencode({k: v for k, v in query.items() if v not in (None, "")})
    return f"{path}?{kept}" if kept else path


async def _owner_page(
    request: Request, who: Viewer, gym_id: uuid.UUID, status_code: int = 200, **extra: Any
) -> Response:
    async with _gym_session(request, who) as session:
        gym = await owned_gym(session, who, gym_id)
        staff = await _staff(session, who, gym_id)
        panels = [p for p in DASHBOARD_PANELS if who.role in p.roles]
        data = {p.template: await p.load(request, who, session) if p.load else {} for p in panels}
    return await render(
        request,
        "gym.html",
        status_code=status_code,
        gym=gyms.GymInfo.model_validate(gym),
        staff=staff,
        panels=panels,
        panel_data=data,
        **extra,
    )


async def _staff(session: AsyncSession, who: Viewer, gym_id: uuid.UUID) -> list[UserOut]:
    people: list[UserOut] = []
    for role in (Role.gym_owner, Role.trainer):
        page = await identity.list_users(
            session,
            principal=who.principal,
            role=role,
            page=PageParams(limit=100, after=None),
            gym_id=gym_id,
        )
        people += page.items
    return people


@router.get("/gyms/{gym_id}", response_class=HTMLResponse)
async def gym_page(request: Request, gym_id: uuid.UUID, who: SignedIn) -> Response:
    return await _owner_page(request, who, gym_id)


@router.post("/gyms/{gym_id}/settings", response_class=HTMLResponse)
async def save_gym(
    request: Request,
    gym_id: uuid.UUID,
    who: SignedIn,
    name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    cancellation_window_hours: Annotated[str, Form()] = "",
    session_buffer_minutes: Annotated[str, Form()] = "",
    primary_color: Annotated[str, Form()] = "",
    accent_color: Annotated[str, Form()] = "",
    logo_url: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        changes = GymUpdateIn.model_validate(
            {
                "name": name,
                "timezone": timezone,
                "settings": {
                    "cancellation_window_hours": cancellation_window_hours,
                    "session_buffer_minutes": session_buffer_minutes,
                },
                "branding": {
                    "primary_color": primary_color,
                    "accent_color": accent_color,
                    "logo_url": logo_url.strip() or None,
                },
            }
        )
        async with _gym_session(request, who) as session:
            await gyms_service.update_gym(
                session,
                principal=who.principal,
                gym_id=gym_id,
                changes=changes.model_dump(exclude_unset=True),
            )
    except (ValidationError, Invalid) as exc:
        submitted = {
            "name": name,
            "timezone": timezone,
            "cancellation_window_hours": cancellation_window_hours,
            "session_buffer_minutes": session_buffer_minutes,
            "primary_color": primary_color,
            "accent_color": accent_color,
            "logo_url": logo_url,
        }
        return await _owner_page(
            request, who, gym_id, 422, errors=field_errors(exc), gym_values=submitted
        )
    return redirect(request, f"/gyms/{gym_id}?saved=1")


@router.post("/gyms/{gym_id}/staff", response_class=HTMLResponse)
async def invite_staff(
    request: Request,
    gym_id: uuid.UUID,
    who: SignedIn,
    email: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    container = request.app.state.container
    try:
        data = StaffIn(email=email, first_name=first_name, last_name=last_name)
        async with _gym_session(request, who) as session:
            staff = await gyms_service.add_staff(
                session,
                container.identity,
                principal=who.principal,
                gym_id=gym_id,
                **data.model_dump(),
            )
    except (ValidationError, Invalid, AppError) as exc:
        if isinstance(exc, AppError) and exc.status not in (409, 422):
            raise
        return await _owner_page(
            request,
            who,
            gym_id,
            exc.status if isinstance(exc, AppError) else 422,
            staff_errors=field_errors(exc),
            staff_values={"email": email, "first_name": first_name, "last_name": last_name},
        )
    container.bus.wake()
    return await _owner_page(request, who, gym_id, invitation_url=staff.invitation_url)


# -- admin -----------------------------------------------------------------------------


ADMIN_PAGE = 50


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(
    request: Request,
    who: SignedIn,
    cursor: str | None = None,
    gyms: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = ADMIN_PAGE,
) -> Response:
    return await _admin_view(request, who, cursor, gyms_cursor=gyms, limit=limit)


async def _admin_view(
    request: Request,
    who: Viewer,
    cursor: str | None = None,
    status_code: int = 200,
    gyms_cursor: str | None = None,
    limit: int = ADMIN_PAGE,
    **extra: Any,
) -> Response:
    if not who.principal.is_admin:
        raise Forbidden("Only platform admins can open this page")
    container = request.app.state.container
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        directory = await gyms_service.gyms_page(
            session,
            PageParams(limit=limit, after=decode_cursor(gyms_cursor) if gyms_cursor else None),
        )
        users = await identity.list_users(
            session,
            principal=who.principal,
            role=None,
            page=PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None),
        )
        gym_names = await gyms_service.names_of(
            session, {u.gym_id for u in users.items if u.gym_id}
        )
    return await render(
        request,
        "admin.html",
        status_code=status_code,
        gyms=directory,
        gyms_cursor=gyms_cursor,
        users=users,
        users_cursor=cursor,
        gym_names=gym_names,
        pager=_admin_pager(gyms_cursor, directory.next_cursor, cursor, users.next_cursor, limit),
        roles=[r.value for r in Role],
        **extra,
    )


def _admin_pager(
    gyms_at: str | None,
    gyms_next: str | None,
    users_at: str | None,
    users_next: str | None,
    limit: int,
) -> dict[str, str | None]:
    """Links that page one list of the console and keep the other where it is."""

    def link(gyms: str | None, users: str | None) -> str:
        return page_link(
            "/admin", gyms=gyms, cursor=users, limit=None if limit == ADMIN_PAGE else limit
        )

    return {
        "first_gyms": link(None, users_at) if gyms_at else None,
        "more_gyms": link(gyms_next, users_at) if gyms_next else None,
        "first_users": link(gyms_at, None) if users_at else None,
        "more_users": link(gyms_at, users_next) if users_next else None,
    }


@router.post("/admin/gyms", response_class=HTMLResponse)
async def admin_create_gym(
    request: Request,
    who: SignedIn,
    name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "",
    owner_email: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if not who.principal.is_admin:
        raise Forbidden("Only platform admins can create gyms")
    container = request.app.state.container
    values = {"name": name, "timezone": timezone, "currency": currency, "owner_email": owner_email}
    try:
        data = GymCreateIn.model_validate({k: v for k, v in values.items() if v})
        async with transaction(container.sessionmaker, all_gyms=True) as session:
            created = await gyms_service.create_gym(
                session, container.identity, principal=who.principal, **data.model_dump()
            )
    except (ValidationError, AppError) as exc:
        if isinstance(exc, AppError) and exc.status not in (409, 422):
            raise
        return await _admin_view(
            request,
            who,
            status_code=exc.status if isinstance(exc, AppError) else 422,
            gym_errors=field_errors(exc),
            gym_values=values,
        )
    container.bus.wake()
    return await _admin_view(request, who, created=created)


@router.post("/admin/users/{user_id}/role")
async def admin_change_role(
    request: Request,
    user_id: uuid.UUID,
    who: SignedIn,
    role: Annotated[Role, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    if not who.principal.is_admin:
        raise Forbidden("Only platform admins can change roles")
    container = request.app.state.container
    async with transaction(container.sessionmaker, all_gyms=True) as session:
        await identity.change_role(session, container.identity, user_id=user_id, role=role)
    return redirect(request, "/admin?saved=1")
