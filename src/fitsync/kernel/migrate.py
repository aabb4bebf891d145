"""Apply Alembic migrations (``fitsync migrate``; automatic for the embedded database)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "fitsync:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema. Blocking: not in an event loop."""
    command.upgrade(alembic_config(url), "heads")
