"""After-commit callbacks run only after a commit; the worker runs periodic jobs."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from fitsync.bootstrap import Container
from fitsync.kernel.db import after_commit, transaction
from fitsync.kernel.outbox import PeriodicJob, run_worker


async def test_after_commit_runs_after_a_commit_and_never_after_a_rollback(
    container: Container,
) -> None:
    ran: list[str] = []

    async def note(name: str) -> None:
        ran.append(name)

    async with transaction(container.sessionmaker, all_gyms=True) as session:
        after_commit(session, lambda: note("committed"))
        assert ran == []
    with pytest.raises(RuntimeError):
        async with transaction(container.sessionmaker, all_gyms=True) as session:
            after_commit(session, lambda: note("rolled back"))
            raise RuntimeError("boom")
    assert ran == ["committed"]


async def test_the_worker_runs_periodic_jobs_and_survives_their_failures(
    container: Container,
) -> None:
    calls: list[int] = []
    done = asyncio.Event()

    async def job() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("a bad run")
        if len(calls) >= 3:
            done.set()
        return 0

    worker = asyncio.create_task(
        run_worker(
            container.sessionmaker,
            container.bus,
            interval=0.01,
            periodic=[PeriodicJob("test.job", every=0.01, run=job)],
        )
    )
    try:
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert len(calls) >= 3
