"""Alembic environment: async engine, every context's tables in one metadata."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from fitsync.contexts import modules
from fitsync.kernel import outbox as _outbox  # noqa: F401 - registers the kernel's tables
from fitsync.kernel.db import Base

modules("models")  # registers every context's tables
target_metadata = Base.metadata
SCHEMAS = {table.schema for table in target_metadata.tables.values()}


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    return type_ != "schema" or name in SCHEMAS


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=_include_name,
        version_table_schema="public",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


asyncio.run(_main())
