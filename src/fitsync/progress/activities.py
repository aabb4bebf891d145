"""Wearable activities: import a watch file, read summaries and samples, rebuild the store.

An import is one unit of work: the summary row, the original file (``activity_files``, so
the time-series store can always be rebuilt) and the samples are written in the same
PostgreSQL transaction; with the InfluxDB adapter, samples written before a failure are
deleted again. The same file twice (per client, by SHA-256) is a 409 naming the activity
that holds it — decided by a unique constraint, so concurrent duplicates cannot both land.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import anyio
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fitsync.kernel import clock, outbox
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import transaction
from fitsync.kernel.errors import AppError, Conflict, Forbidden, Invalid, NotFound, TooLarge
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.progress import domain, events, service, wearables
from fitsync.progress.access import Level, subject
from fitsync.progress.models import Activity, ActivityFile
from fitsync.progress.schemas import ActivityOut
from fitsync.progress.timeseries import SampleStore, Span

log = logging.getLogger("fitsync.progress")

# Parsing is CPU- and memory-heavy: at most this many files are parsed at once per process.
PARSE_LIMITER = anyio.CapacityLimiter(2)


def activity_out(row: Activity) -> ActivityOut:
    return ActivityOut(
        id=row.id,
        client_id=row.user_id,
        sport=row.sport,
        sub_sport=row.sub_sport,
        source_format=wearables.as_format(row.source_format),
        started_at=row.started_at,
        ended_at=row.ended_at,
        elapsed_s=row.elapsed_s,
        moving_s=row.moving_s,
        distance_m=row.distance_m,
        ascent_m=row.ascent_m,
        hr_avg=row.hr_avg,
        hr_max=row.hr_max,
        power_avg=row.power_avg,
        power_max=row.power_max,
        power_np=row.power_np,
        cadence_avg=row.cadence_avg,
        calories=row.calories,
        samples=row.samples,
        laps=row.laps,
        device=row.device,
        hr_zones_s=row.hr_zones_s,
        trimp=row.trimp,
        file_name=row.file_name,
        file_sha256=row.file_sha256,
        created_at=row.created_at,
    )


def span_of(row: Activity) -> Span:
    return Span(activity_id=row.id, gym_id=row.gym_id, start=row.started_at, end=row.ended_at)


@dataclass(frozen=True)
class Upload:
    """A received file: where it is, what it is, its digest."""

    stream: IO[bytes]
    name: str | None
    size: int
    fmt: wearables.Format
    sha256: str


def check_uploader(principal: Principal) -> None:
    if principal.role is not Role.client:
        raise Forbidden("Only clients import their own watch files")


async def existing_activity(
    session: AsyncSession, *, user_id: uuid.UUID, sha256: str
) -> uuid.UUID | None:
    return await session.scalar(
        select(Activity.id).where(Activity.user_id == user_id, Activity.file_sha256 == sha256)
    )


def duplicate(existing_id: uuid.UUID) -> Conflict:
    return Conflict("This file has been imported before", existing_id=str(existing_id))


async def parse_upload(upload: Upload, *, max_samples: int) -> wearables.ParsedActivity:
    return await anyio.to_thread.run_sync(
        lambda: wearables.parse(upload.stream, upload.fmt, max_samples=max_samples),
        limiter=PARSE_LIMITER,
    )


async def store_activity(
    session: AsyncSession,
    store: SampleStore,
    *,
    principal: Principal,
    upload: Upload,
    parsed: wearables.ParsedActivity,
    written: list[Span],
) -> ActivityOut:
    """Insert the summary, the original file and the samples (``written`` collects spans
    stored in a non-transactional store, for the caller to undo on failure)."""
    check_uploader(principal)
    assert principal.gym_id is not None
    samples = parsed.samples
    profile = service.hr_profile(await service.get_profile(session, principal.user_id))
    hrs = samples.values("hr")
    has_hr = any(h is not None for h in hrs)
    activity_id = uuid.uuid4()
    ended = datetime.fromtimestamp(samples.t[-1], UTC)
    started = min(parsed.started_at, datetime.fromtimestamp(samples.t[0], UTC))
    row = await session.execute(
        pg_insert(Activity)
        .values(
            id=activity_id,
            gym_id=principal.gym_id,
            user_id=principal.user_id,
            sport=parsed.sport[:40],
            sub_sport=(parsed.sub_sport or None) and parsed.sub_sport[:40],
            source_format=parsed.source_format,
            started_at=started,
            ended_at=ended,
            elapsed_s=parsed.elapsed_s,
            moving_s=parsed.moving_s,
            distance_m=parsed.distance_m,
            ascent_m=parsed.ascent_m,
            hr_avg=parsed.hr_avg,
            hr_max=parsed.hr_max,
            power_avg=parsed.power_avg,
            power_max=parsed.power_max,
            power_np=parsed.power_np,
            cadence_avg=parsed.cadence_avg,
            calories=parsed.calories,
            samples=len(samples),
            laps=parsed.laps,
            device=(parsed.device or None) and parsed.device[:200],
            hr_zones_s=domain.hr_zone_seconds(samples.t, hrs, profile) if has_hr else None,
            trimp=domain.trimp(samples.t, hrs, profile) if has_hr else None,
            file_name=(upload.name or None) and upload.name[-255:],
            file_size=upload.size,
            file_sha256=upload.sha256,
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=[Activity.user_id, Activity.file_sha256])
        .returning(Activity.id)
    )
    if row.first() is None:
        existing = await existing_activity(session, user_id=principal.user_id, sha256=upload.sha256)
        assert existing is not None
        raise duplicate(existing)
    upload.stream.seek(0)
    content = await anyio.to_thread.run_sync(upload.stream.read)
    session.add(ActivityFile(activity_id=activity_id, gym_id=principal.gym_id, content=content))
    await session.flush()
    del content
    activity = await session.get_one(Activity, activity_id)
    span = span_of(activity)
    if not store.transactional:
        written.append(span)
    stored = await store.write(session, span, samples)
    activity.samples = stored
    await outbox.add(
        session,
        outbox.Event(
            type=events.ACTIVITY_IMPORTED,
            gym_id=principal.gym_id,
            actor_id=principal.user_id,
            data={
                "activity_id": str(activity_id),
                "client_id": str(principal.user_id),
                "sport": activity.sport,
                "started_at": activity.started_at.isoformat(),
                "elapsed_s": activity.elapsed_s,
                "distance_m": activity.distance_m,
                "trimp": activity.trimp,
                "source_format": activity.source_format,
            },
        ),
    )
    await session.flush()
    return activity_out(activity)


async def import_upload(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: SampleStore,
    *,
    principal: Principal,
    stream: IO[bytes],
    name: str | None,
    size: int,
    max_bytes: int,
    max_samples: int,
) -> ActivityOut:
    """The whole import of one received file, in its own units of work (the HTTP endpoint
    and the web page share it): checks, duplicate detection, parsing outside any
    transaction, storing, undoing samples of a non-transactional store on failure."""
    check_uploader(principal)
    assert principal.gym_id is not None
    if size > max_bytes:
        raise TooLarge(f"The file is larger than {max_bytes} bytes")
    head = await anyio.to_thread.run_sync(stream.read, 65536)
    stream.seek(0)
    try:
        fmt = wearables.detect_format(name, head)
    except wearables.BadFile as exc:
        raise AppError(str(exc)) from None
    digest = await anyio.to_thread.run_sync(wearables.sha256_of, stream)
    upload = Upload(stream=stream, name=name, size=size, fmt=fmt, sha256=digest)
    async with transaction(sessionmaker, gym_id=principal.gym_id) as session:
        existing = await existing_activity(session, user_id=principal.user_id, sha256=digest)
    if existing is not None:
        raise duplicate(existing)
    try:
        parsed = await parse_upload(upload, max_samples=max_samples)
    except wearables.BadFile as exc:
        raise AppError(str(exc)) from None
    written: list[Span] = []
    try:
        async with transaction(sessionmaker, gym_id=principal.gym_id) as session:
            out = await store_activity(
                session, store, principal=principal, upload=upload, parsed=parsed, written=written
            )
    except BaseException:
        for span in written:  # samples already in a non-transactional store
            with contextlib.suppress(Exception):
                async with transaction(sessionmaker, gym_id=principal.gym_id) as s:
                    await store.delete(s, span)
        raise
    await settle(store, Span(out.id, principal.gym_id, out.started_at, out.ended_at))
    return out


async def access_activity(
    session: AsyncSession, *, principal: Principal, activity_id: uuid.UUID, level: Level
) -> Activity:
    activity = await session.get(Activity, activity_id)
    if activity is None:
        raise NotFound("No such activity")
    try:
        await subject(session, principal, activity.user_id, level=level)
    except NotFound:
        raise NotFound("No such activity") from None
    return activity


async def list_activities(
    session: AsyncSession,
    *,
    principal: Principal,
    client_id: uuid.UUID | None,
    page: PageParams,
) -> Page[ActivityOut]:
    client = await subject(session, principal, client_id, level=Level.read)
    query = (
        select(Activity)
        .where(Activity.user_id == client.id)
        .order_by(Activity.started_at.desc(), Activity.id.desc())
        .limit(page.limit + 1)
    )
    if page.after:
        try:
            after = (datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1]))
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        query = query.where(tuple_(Activity.started_at, Activity.id) < after)
    rows = list((await session.execute(query)).scalars())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor([rows[-1].started_at.isoformat(), str(rows[-1].id)]) if more else None
    return Page[ActivityOut](items=[activity_out(r) for r in rows], next_cursor=cursor)


async def activity_samples(
    session: AsyncSession,
    store: SampleStore,
    *,
    principal: Principal,
    activity_id: uuid.UUID,
    every_s: int,
    fields: Sequence[str],
) -> list[dict[str, Any]]:
    """The activity's samples in buckets of ``every_s`` seconds (means), time-ordered."""
    activity = await access_activity(
        session, principal=principal, activity_id=activity_id, level=Level.read
    )
    rows = await store.series(session, span_of(activity), every_s=every_s, fields=fields)
    out = []
    for row in rows:
        if all(row[f] is None for f in fields):
            continue
        row["t"] = datetime.fromtimestamp(row["t"], UTC).isoformat()
        out.append(row)
    return out


async def settle(store: SampleStore, span: Span) -> None:
    """Let the store tidy up after a committed write; a failure only costs read speed."""
    try:
        await store.settle(span)
    except Exception:
        log.warning("could not settle samples of activity %s", span.activity_id, exc_info=True)


def _parse_bytes(content: bytes, fmt: wearables.Format) -> wearables.ParsedActivity:
    return wearables.parse(wearables.open_bytes(content), fmt)


async def rebuild_timeseries(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: SampleStore,
    *,
    activity_id: uuid.UUID | None = None,
) -> tuple[int, int]:
    """Refill the time-series store from the stored original files: (activities, samples)."""
    async with transaction(sessionmaker, all_gyms=True) as session:
        query = select(Activity.id).order_by(Activity.started_at)
        if activity_id is not None:
            query = query.where(Activity.id == activity_id)
        ids = list((await session.execute(query)).scalars())
    activities = samples = 0
    for one in ids:
        async with transaction(sessionmaker, all_gyms=True) as session:
            activity = await session.get_one(Activity, one)
            file = await session.get(ActivityFile, one)
            if file is None:
                log.warning("activity %s has no stored file; skipped", one)
                continue
            fmt = wearables.as_format(activity.source_format)
            parsed = await anyio.to_thread.run_sync(
                _parse_bytes, file.content, fmt, limiter=PARSE_LIMITER
            )
            span = span_of(activity)
            await store.delete(session, span)
            activity.samples = await store.write(session, span, parsed.samples)
            activities += 1
            samples += activity.samples
        await settle(store, span)
    return activities, samples
