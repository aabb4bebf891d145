"""PostgreSQL: the declarative base, the engine, tenant scoping and the unit of work.

Row-level security: migrations create the role ``fitsync_app`` and enable RLS on
every tenant table with a policy on ``gym_id = app.gym_id``. The application's
connections ``SET ROLE fitsync_app`` (a role that owns nothing, so RLS applies to
it) and every transaction states its tenant with :func:`set_tenant`. The repository
queries filter by gym themselves; RLS is the backstop for a query that forgets.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import MetaData, text
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

APP_ROLE = "fitsync_app"

log = logging.getLogger("fitsync.db")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        uuid.UUID: UUID(as_uuid=True),
        datetime: TIMESTAMP(timezone=True),
    }


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


def make_engine(url: str, *, pool_size: int = 10, app_role: bool = True) -> AsyncEngine:
    """An asyncpg engine; with ``app_role`` its connections run as ``fitsync_app``.

    The role is a startup parameter of the connection, not a ``SET ROLE`` statement:
    a ``SET`` inside a transaction that rolls back is undone, which would leave a
    pooled connection running as the (RLS-exempt) login user.
    """
    server_settings = {"jit": "off", "application_name": "fitsync"}
    if app_role:
        server_settings["role"] = APP_ROLE
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"server_settings": server_settings},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def set_tenant(
    session: AsyncSession, gym_id: uuid.UUID | None, *, all_gyms: bool = False
) -> None:
    """State whose rows this transaction may see: one gym, or all (admin, system jobs)."""
    await session.execute(
        text("SELECT set_config('app.gym_id', :gym, true), set_config('app.all_gyms', :all, true)"),
        {"gym": str(gym_id) if gym_id else "", "all": "on" if all_gyms else "off"},
    )


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[object]]) -> None:
    """Run ``callback`` once the transaction has committed (never after a rollback).

    For side effects outside PostgreSQL that must not announce uncommitted state, such
    as live notifications over Redis pub/sub. A failing callback is logged, not raised:
    the change is already committed.
    """
    session.info.setdefault("after_commit", []).append(callback)


async def _run_after_commit(session: AsyncSession) -> None:
    for callback in session.info.pop("after_commit", []):
        try:
            await callback()
        except Exception:
            log.exception("after-commit callback failed")


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    gym_id: uuid.UUID | None = None,
    all_gyms: bool = False,
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends normally, rolls back otherwise.

    An error marked ``keep_changes`` (e.g. a detected token theft, whose revocation
    must stick although the request fails) commits before it propagates.
    """
    async with sessionmaker() as session:
        await session.begin()
        try:
            await set_tenant(session, gym_id, all_gyms=all_gyms)
            yield session
        except BaseException as exc:
            if getattr(exc, "keep_changes", False):
                await session.commit()
                await _run_after_commit(session)
            else:
                await session.rollback()
                session.info.pop("after_commit", None)
            raise
        await session.commit()
        await _run_after_commit(session)


def rls_policy_sql(table: str, *, column: str = "gym_id") -> list[str]:
    """Migration helper: enable RLS on a tenant table and grant it to the app role."""
    using = (
        f"current_setting('app.all_gyms', true) = 'on' OR "
        f"{column} = nullif(current_setting('app.gym_id', true), '')::uuid"
    )
    name = table.split(".")[-1]
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY {name}_tenant ON {table} USING ({using}) WITH CHECK ({using})",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}",
    ]


def unique_violation(exc: BaseException) -> str | None:
    """The name of the unique constraint ``exc`` violated, or None for other errors."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) != "23505":
        return None
    cause = getattr(orig, "__cause__", None)
    return str(getattr(cause, "constraint_name", "") or "unique")
