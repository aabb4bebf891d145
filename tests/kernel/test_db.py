"""The application's connections run as the app role, so row-level security applies."""

from __future__ import annotations

from sqlalchemy import text

from fitsync.bootstrap import Container


async def test_a_rolled_back_transaction_keeps_the_app_role(container: Container) -> None:
    for _ in range(3):  # the pool hands the same connection back each time
        async with container.sessionmaker() as session:
            assert (await session.execute(text("SELECT current_user"))).scalar() == "fitsync_app"
            await session.rollback()
    async with container.engine.connect() as conn:
        await conn.execute(text("RESET ROLE"))
        assert (await conn.execute(text("SELECT current_user"))).scalar() == "fitsync_app"
