"""`fitsync events status | dead-letters | replay ID`: the operator's view of the bus."""

from __future__ import annotations

import asyncio
import os
import sys

from fitsync.bootstrap import Container
from fitsync.kernel import outbox
from fitsync.kernel.outbox import Event, consume_once
from fitsync.settings import Settings
from tests.factories import make_gym, make_user
from tests.notifications.conftest import consume, notifications_consumer


async def _fitsync(settings: Settings, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSYNC_")}
    env.update(
        FITSYNC_DATABASE_URL=settings.database_url or "",
        FITSYNC_REDIS_URL=settings.redis_url or "",
        FITSYNC_REDIS_PREFIX=settings.redis_prefix,
        FITSYNC_DATA_DIR=str(settings.data_dir),
        FITSYNC_SECRET_KEY=settings.secret_key or "",
        COLUMNS="200",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fitsync",
        "events",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_status_dead_letters_and_replay_from_the_command_line(
    container: Container, settings: Settings
) -> None:
    gym_id = await make_gym(container)
    await make_user(container, gym_id=gym_id)
    await consume(container)
    await make_user(container, gym_id=gym_id)  # one more, not yet relayed
    bad = Event(type="booking.reminder", gym_id=gym_id, data={})
    letter_id = await outbox.dead_letter(
        container.bus, consumer_name="notifications", event=bad, error="SMTP 554: rejected"
    )

    code, out = await _fitsync(settings, "status")
    assert code == 0, out
    assert "outbox: 1 unpublished" in out
    assert "notifications" in out
    assert "dead letters: 1" in out

    code, out = await _fitsync(settings, "dead-letters")
    assert code == 0, out
    assert letter_id in out
    assert "SMTP 554: rejected" in out
    assert str(bad.id) in out

    code, out = await _fitsync(settings, "replay", letter_id)
    assert code == 0, out
    assert f"Replayed booking.reminder {bad.id}" in out
    assert await outbox.dead_letters(container.bus) == []
    entries = await container.redis.xrange(container.bus.stream)
    assert Event.from_fields(entries[-1][1]).id == bad.id
    await consume_once(container.sessionmaker, container.bus, notifications_consumer())

    code, out = await _fitsync(settings, "replay", "0-1")
    assert code == 1
    assert "no dead letter" in out
