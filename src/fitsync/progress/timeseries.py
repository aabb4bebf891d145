"""The time-series store of activity samples: a port and its two adapters.

- :class:`PostgresSampleStore` (the default, embedded too): ``progress.samples``, range-
  partitioned by month, BRIN on time. Writes go through COPY (asyncpg's
  ``copy_records_to_table`` on the request transaction's own connection) into a temporary
  staging table, then one ``INSERT … SELECT`` into the partitioned table: PostgreSQL refuses
  ``COPY FROM`` on a table with row-level security, and the staging step keeps RLS's
  ``WITH CHECK`` on every row. Writes join the caller's transaction: a failed import leaves
  no samples behind.
- :class:`InfluxSampleStore`: InfluxDB over its v1 HTTP API (line protocol on ``/write``,
  InfluxQL on ``/query``), chosen by ``FITSYNC_INFLUX_URL``. Writes are not transactional:
  the caller deletes what it wrote when its transaction fails (:attr:`transactional`).

Both answer :meth:`SampleStore.series` with the same shape: one row per bucket of
``every`` seconds (aligned on the activity's start), means of the requested fields.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fitsync.kernel.errors import AppError
from fitsync.progress.wearables import Samples

COLUMNS = ("hr", "power", "cadence", "speed", "lat", "lon", "alt", "distance")
INT_FIELDS = frozenset({"hr", "power", "cadence"})


@dataclass(frozen=True)
class Span:
    """Which activity, whose, and when (bounds every query to the right partitions)."""

    activity_id: uuid.UUID
    gym_id: uuid.UUID
    start: datetime
    end: datetime


class SampleStore(Protocol):
    name: str
    transactional: bool

    async def write(self, session: AsyncSession, span: Span, samples: Samples) -> int:
        """Store the samples; returns how many were stored."""
        ...

    async def series(
        self, session: AsyncSession, span: Span, *, every_s: int, fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """``[{"t": POSIX seconds, field: value | None, ...}]`` in time order; bucket means
        rounded to 2 decimals (positions to 7)."""
        ...

    async def delete(self, session: AsyncSession, span: Span) -> None: ...

    async def settle(self, span: Span) -> None:
        """After the import committed: make its samples fast to read (best effort)."""
        ...

    async def close(self) -> None: ...


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


# ---------------------------------------------------------------- PostgreSQL


class PostgresSampleStore:
    name = "postgres"
    transactional = True

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._months: set[tuple[int, int]] = set()

    async def _ensure_partitions(self, start: datetime, end: datetime) -> None:
        """Create missing monthly partitions, in a short transaction of their own."""
        months = set()
        month = start.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        while month <= end:
            months.add((month.year, month.month))
            month = (month + timedelta(days=32)).replace(day=1)
        if months <= self._months:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                text("SELECT progress.ensure_sample_partitions(:lo, :hi)"),
                {"lo": start, "hi": end},
            )
        self._months |= months

    async def write(self, session: AsyncSession, span: Span, samples: Samples) -> int:
        if not len(samples):
            return 0
        await self._ensure_partitions(span.start, span.end)
        conn = await session.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute(
            "CREATE TEMP TABLE IF NOT EXISTS samples_stage"
            " (LIKE progress.samples) ON COMMIT DELETE ROWS"
        )
        activity_id, gym_id = span.activity_id, span.gym_id

        def records() -> Iterator[tuple[Any, ...]]:
            for t, *values in samples.rows():
                yield (activity_id, gym_id, _utc(t), *values)

        await raw.copy_records_to_table(
            "samples_stage",
            records=records(),
            columns=["activity_id", "gym_id", "t", *COLUMNS],
        )
        status = await raw.execute(
            "INSERT INTO progress.samples SELECT * FROM samples_stage ORDER BY t"
        )
        await raw.execute("TRUNCATE samples_stage")
        return int(status.rsplit(" ", 1)[-1])

    async def series(
        self, session: AsyncSession, span: Span, *, every_s: int, fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        # The hot read path: asyncpg on the transaction's own connection (RLS applies), the
        # rounding done by PostgreSQL, times as epoch seconds (no datetime objects).
        conn = await session.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        where = "activity_id = $1 AND gym_id = $2 AND t >= $3 AND t <= $4"
        args: list[Any] = [span.activity_id, span.gym_id, span.start, span.end]
        if every_s <= 1:
            select = ", ".join(_raw_column(f) for f in fields)
            sql = (
                f"SELECT extract(epoch FROM t)::float8, {select}"
                f" FROM progress.samples WHERE {where} ORDER BY t"
            )
        else:
            # Hash the buckets and sort the few results here: the planner underestimates the
            # rows of one activity and would sort all of them first (measured: 2-3x slower).
            await raw.execute("SET LOCAL enable_sort = off")
            inner = ", ".join(f"avg({f}::float8) AS {f}" for f in fields)
            outer = ", ".join(_rounded(f) for f in fields)
            sql = (
                f"SELECT extract(epoch FROM b)::float8, {outer} FROM ("
                f"SELECT date_bin(make_interval(secs => $5), t, $3) AS b, {inner}"
                f" FROM progress.samples WHERE {where} GROUP BY b) AS buckets"
            )
            args.append(every_s)
        rows = await raw.fetch(sql, *args)
        out = [dict(zip(("t", *fields), row, strict=True)) for row in rows]
        if every_s > 1:
            out.sort(key=lambda item: item["t"])
        return out

    async def delete(self, session: AsyncSession, span: Span) -> None:
        await session.execute(
            text(
                "DELETE FROM progress.samples WHERE activity_id = :id AND t >= :start AND t <= :end"
            ),
            {"id": span.activity_id, "start": span.start, "end": span.end},
        )

    async def settle(self, span: Span) -> None:
        """Summarise the BRIN ranges the import filled (in its own short transaction)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("SELECT progress.summarize_samples(:lo, :hi)"),
                {"lo": span.start, "hi": span.end},
            )

    async def close(self) -> None:
        return None


# ---------------------------------------------------------------- InfluxDB (v1 HTTP API)


def _raw_column(name: str) -> str:
    if name in ("lat", "lon"):
        return f"({name} / 1e7)::float8"
    return f"{name}::float8"


def _rounded(name: str) -> str:
    digits = 7 if name in ("lat", "lon") else 2
    scaled = f"{name} / 1e7" if name in ("lat", "lon") else name
    return f"round(({scaled})::numeric, {digits})::float8"


class InfluxError(AppError):
    """InfluxDB could not be reached or refused a request (503: try again later)."""

    status = 503
    title = "Time-series store unavailable"
    type_suffix = "store-unavailable"


def _field_value(name: str, value: Any) -> str:
    if name in INT_FIELDS or name in ("lat", "lon"):
        return f"{int(value)}i"
    return repr(float(value))


def line_protocol(span: Span, samples: Samples, measurement: str = "samples") -> Iterator[str]:
    """One line per sample that has any value: ``samples,activity_id=…,gym_id=… hr=150i …``."""
    prefix = f"{measurement},activity_id={span.activity_id},gym_id={span.gym_id} "
    for t, *values in samples.rows():
        fields = ",".join(
            f"{name}={_field_value(name, v)}"
            for name, v in zip(COLUMNS, values, strict=True)
            if v is not None and not (isinstance(v, float) and math.isnan(v))
        )
        if fields:
            yield f"{prefix}{fields} {round(t * 1000)}"


class InfluxSampleStore:
    name = "influxdb"
    transactional = False
    BATCH = 20_000

    def __init__(self, url: str, *, database: str = "fitsync", timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        auth = None
        if parts.username:
            auth = (parts.username, parts.password or "")
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            parts = parts._replace(netloc=netloc)
        path = parts.path.strip("/")
        self.database = path or database
        self.client = httpx.AsyncClient(
            base_url=urlunsplit(parts._replace(path="", query="", fragment="")),
            auth=auth,
            timeout=timeout,
        )
        self._ready = False

    async def _query(self, q: str, *, write: bool = False) -> dict[str, Any]:
        params = {"q": q, "db": self.database, "epoch": "ms"}
        try:
            if write:
                response = await self.client.post("/query", params=params)
            else:
                response = await self.client.get("/query", params=params)
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB cannot be reached: {exc!r}") from None
        if response.status_code >= 300:
            raise InfluxError(f"InfluxDB answered {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxError(f"InfluxDB: {result['error']}")
        return body

    async def _ensure_database(self) -> None:
        if not self._ready:
            await self._query(f'CREATE DATABASE "{self.database}"', write=True)
            self._ready = True

    async def write(self, session: AsyncSession, span: Span, samples: Samples) -> int:
        await self._ensure_database()
        written = 0
        batch: list[str] = []
        for line in line_protocol(span, samples):
            batch.append(line)
            if len(batch) >= self.BATCH:
                await self._write(batch)
                written += len(batch)
                batch = []
        if batch:
            await self._write(batch)
            written += len(batch)
        return written

    async def _write(self, lines: list[str]) -> None:
        try:
            response = await self.client.post(
                "/write",
                params={"db": self.database, "precision": "ms"},
                content="\n".join(lines).encode(),
            )
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB cannot be reached: {exc!r}") from None
        if response.status_code != 204:
            raise InfluxError(f"InfluxDB write: {response.status_code} {response.text[:300]}")

    async def series(
        self, session: AsyncSession, span: Span, *, every_s: int, fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        await self._ensure_database()
        start_ms = int(span.start.timestamp() * 1000)
        end_ms = int(span.end.timestamp() * 1000)
        where = (
            f"\"activity_id\" = '{span.activity_id}' AND \"gym_id\" = '{span.gym_id}'"
            f" AND time >= {start_ms}ms AND time <= {end_ms}ms"
        )
        if every_s <= 1:
            select = ", ".join(f'"{f}"' for f in fields)
            q = f'SELECT {select} FROM "samples" WHERE {where}'
        else:
            offset_s = int(span.start.timestamp()) % every_s
            select = ", ".join(f'mean("{f}") AS "{f}"' for f in fields)
            q = (
                f'SELECT {select} FROM "samples" WHERE {where}'
                f" GROUP BY time({every_s}s, {offset_s}s) fill(none)"
            )
        body = await self._query(q)
        out: list[dict[str, Any]] = []
        for result in body.get("results", []):
            for serie in result.get("series", []):
                columns = serie["columns"]
                for values in serie["values"]:
                    row = dict(zip(columns, values, strict=True))
                    item: dict[str, Any] = {"t": row["time"] / 1000}
                    for name in fields:
                        value = row.get(name)
                        if value is not None:
                            if name in ("lat", "lon"):
                                value = round(value / 1e7, 7)
                            elif every_s > 1:
                                value = round(value, 2)
                        item[name] = value
                    out.append(item)
        return out

    async def delete(self, session: AsyncSession, span: Span) -> None:
        await self._ensure_database()
        await self._query(
            f'DELETE FROM "samples" WHERE "activity_id" = \'{span.activity_id}\'', write=True
        )

    async def settle(self, span: Span) -> None:
        return None

    async def close(self) -> None:
        await self.client.aclose()


def make_store(engine: AsyncEngine, influx_url: str | None) -> SampleStore:
    """The adapter the settings choose: InfluxDB when its URL is set, PostgreSQL otherwise."""
    if influx_url:
        return InfluxSampleStore(influx_url)
    return PostgresSampleStore(engine)
