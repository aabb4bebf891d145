"""The ``fitsync`` command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from fitsync.kernel import migrate as migrations
from fitsync.kernel.embedded import EmbeddedError, embedded_stores
from fitsync.settings import Settings

if TYPE_CHECKING:
    from fitsync.bootstrap import Container

T = TypeVar("T")

app = typer.Typer(
    help="FitSync: the open-source platform for gyms, studios and personal trainers.\n\n"
    "Configuration comes from FITSYNC_* environment variables. Without FITSYNC_DATABASE_URL"
    " and FITSYNC_REDIS_URL, FitSync runs embedded PostgreSQL and Redis under"
    " FITSYNC_DATA_DIR (default ~/.fitsync).",
    no_args_is_help=True,
    add_completion=False,
)
admin_app = typer.Typer(help="Platform administration.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
billing_app = typer.Typer(help="Billing jobs.", no_args_is_help=True)
app.add_typer(billing_app, name="billing")
events_app = typer.Typer(
    help="The event bus: outbox backlog, consumer lag, dead letters.", no_args_is_help=True
)
app.add_typer(events_app, name="events")
console = Console(stderr=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _stores(settings: Settings) -> Iterator[Settings]:
    """Resolve store URLs, starting embedded stores for the unset ones; migrate those."""
    need_pg, need_redis = not settings.database_url, not settings.redis_url
    if not (need_pg or need_redis):
        yield settings
        return
    console.print(f"[dim]Starting embedded stores in {settings.data_dir} …[/dim]")
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler
    # found at start-up: the default one would kill us before the stores below are stopped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = False
    try:
        with embedded_stores(settings.data_dir, postgres=need_pg, redis=need_redis) as urls:
            assert urls is not None
            started = True
            if need_pg:
                settings.database_url = urls.database_url
                console.print("[dim]Applying migrations …[/dim]")
                migrations.upgrade(urls.database_url)
            if need_redis:
                settings.redis_url = urls.redis_url
            yield settings
    except EmbeddedError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        if started:  # also when leaving by Ctrl-C or SIGTERM
            console.print("[dim]Embedded stores stopped.[/dim]")


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    settings.public_url = os.environ.get("FITSYNC_PUBLIC_URL", f"http://{host}:{port}")
    # Worker processes read their settings from the environment.
    os.environ.update(
        FITSYNC_DATABASE_URL=settings.database_url or "",
        FITSYNC_REDIS_URL=settings.redis_url or "",
        FITSYNC_SECRET_KEY=settings.resolved_secret_key(),
        FITSYNC_PUBLIC_URL=settings.public_url,
    )
    console.print(f"FitSync is serving on [bold]http://{host}:{port}[/bold] (API docs: /api/docs)")
    uvicorn.run(
        "fitsync.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
    )


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
Workers = Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")]


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Run the HTTP API (and the background worker) until interrupted."""
    with _stores(Settings()) as settings:
        _serve(settings, host, port, workers)


@app.command()
def migrate() -> None:
    """Apply database migrations (the embedded database is migrated on every start)."""
    settings = Settings()
    if settings.database_url:
        migrations.upgrade(settings.database_url)
        console.print("Migrations applied.")
        return
    with _stores(settings):
        console.print("Migrations applied.")


@app.command()
def demo(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Seed a demo gym (owner, two trainers, clients), print the logins, and serve."""
    from fitsync import demo as demo_data
    from fitsync.bootstrap import build_container

    with _stores(Settings()) as settings:

        async def seed() -> list[demo_data.DemoLogin]:
            container = build_container(settings)
            try:
                return await demo_data.seed(container)
            finally:
                await container.close()

        logins = asyncio.run(seed())
        table = Table(title=f"Demo logins (password for all: {demo_data.DEMO_PASSWORD})")
        for column in ("role", "email", "name"):
            table.add_column(column)
        for login in logins:
            table.add_row(login.role, login.email, login.name)
        Console().print(table)
        _serve(settings, host, port, workers)


@app.command("rebuild-timeseries")
def rebuild_timeseries(
    activity: Annotated[
        str | None, typer.Option(help="Only this activity id (default: every activity).")
    ] = None,
) -> None:
    """Refill the time-series store (PostgreSQL or InfluxDB) from the stored original files."""
    import uuid

    from fitsync.bootstrap import build_container
    from fitsync.progress import activities

    try:
        only = uuid.UUID(activity) if activity else None
    except ValueError:
        console.print(f"[red]error:[/red] {activity!r} is not an activity id")
        raise typer.Exit(2) from None
    with _stores(Settings()) as settings:

        async def rebuild() -> tuple[int, int]:
            container = build_container(settings)
            try:
                return await activities.rebuild_timeseries(
                    container.sessionmaker, container.progress.store, activity_id=only
                )
            finally:
                await container.close()

        count, samples = asyncio.run(rebuild())
    console.print(f"Rebuilt {count} activities ({samples} samples).")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The admin's email (their login).")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="At least 10 characters.")
    ],
    first_name: Annotated[str, typer.Option()] = "Platform",
    last_name: Annotated[str, typer.Option()] = "Admin",
) -> None:
    """Create a platform admin (who can then create gyms and their owners)."""
    from pydantic import EmailStr, TypeAdapter, ValidationError

    from fitsync.bootstrap import build_container
    from fitsync.identity import public as identity
    from fitsync.kernel.auth import Role
    from fitsync.kernel.db import transaction
    from fitsync.kernel.errors import AppError

    try:
        TypeAdapter(EmailStr).validate_python(email)
    except ValidationError:
        console.print(f"[red]error:[/red] {email!r} is not a valid email address")
        raise typer.Exit(2) from None

    with _stores(Settings()) as settings:

        async def create() -> None:
            container = build_container(settings)
            try:
                async with transaction(container.sessionmaker, all_gyms=True) as session:
                    await identity.create_user(
                        session,
                        container.identity,
                        actor_id=None,
                        email=email,
                        first_name=first_name,
                        last_name=last_name,
                        role=Role.admin,
                        gym_id=None,
                        password=password,
                    )
            finally:
                await container.close()

        try:
            asyncio.run(create())
        except AppError as exc:
            console.print(f"[red]error:[/red] {exc.detail}")
            raise typer.Exit(2) from None
    console.print(f"Admin {email} created.")


@billing_app.command("run")
def billing_run() -> None:
    """Renew due subscriptions and retry failed payments once; safe to run any time and
    concurrently (schedule it, e.g. every 15 minutes)."""
    from fitsync.billing import tasks
    from fitsync.billing.providers import build_runtime
    from fitsync.bootstrap import build_container

    with _stores(Settings()) as settings:

        async def run() -> tasks.JobReport:
            container = build_container(settings)
            rt = build_runtime(
                card_api_url=settings.billing_card_api_url,
                card_api_key=settings.billing_card_api_key,
                card_webhook_secret=settings.billing_card_webhook_secret,
            )
            try:
                return await tasks.run_all(container.sessionmaker, rt)
            finally:
                await rt.close()
                await container.close()

        report = asyncio.run(run())
    console.print(
        f"renewed {report.renewed}, charged {report.charged}, failed {report.failed},"
        f" retried {report.retried}, canceled {report.canceled}"
    )


def _with_container(work: Callable[[Container], Awaitable[T]]) -> T:
    from fitsync.bootstrap import build_container

    with _stores(Settings()) as settings:

        async def run() -> T:
            container = build_container(settings)
            try:
                return await work(container)
            finally:
                await container.close()

        return asyncio.run(run())


@events_app.command("status")
def events_status() -> None:
    """Outbox backlog, lag and pending entries per consumer group, dead letters."""
    from fitsync.kernel import outbox

    async def work(container: Container) -> outbox.BusStatus:
        return await outbox.status(container.sessionmaker, container.bus)

    st = _with_container(work)
    age = f", oldest {st.oldest_unpublished_s:.1f} s" if st.oldest_unpublished_s else ""
    out = Console()
    out.print(f"outbox: {st.outbox_unpublished} unpublished{age}")
    out.print(f"stream: {st.stream_length} entries")
    table = Table(title="consumer groups")
    for column in ("group", "lag", "pending", "consumers"):
        table.add_column(column)
    for group in st.groups:
        lag = "?" if group.lag is None else str(group.lag)
        table.add_row(group.name, lag, str(group.pending), str(group.consumers))
    out.print(table)
    out.print(f"dead letters: {st.dead_letters}")


@events_app.command("dead-letters")
def events_dead_letters(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 50,
) -> None:
    """Events a consumer gave up on, with the error; replay one with `events replay ID`."""
    from fitsync.kernel import outbox

    async def work(container: Container) -> list[outbox.DeadLetter]:
        return await outbox.dead_letters(container.bus, count=limit)

    letters = _with_container(work)
    table = Table(title=f"dead letters ({len(letters)})")
    for column in ("id", "failed at", "consumer", "event", "error"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            letter.entry_id,
            letter.failed_at,
            letter.consumer,
            f"{letter.event.type} {letter.event.id}",
            letter.error,
        )
    Console().print(table)


@events_app.command("replay")
def events_replay(entry_id: Annotated[str, typer.Argument(help="A dead letter's id.")]) -> None:
    """Deliver a dead-lettered event again to the consumer that gave up on it."""
    from fitsync.kernel import outbox

    async def work(container: Container) -> outbox.DeadLetter | None:
        return await outbox.replay(container.sessionmaker, container.bus, entry_id)

    letter = _with_container(work)
    if letter is None:
        console.print(f"[red]error:[/red] no dead letter {entry_id}")
        raise typer.Exit(1)
    console.print(
        f"Replayed {letter.event.type} {letter.event.id} to {letter.consumer or 'all consumers'}."
    )


def main() -> None:
    app()
