"""Idempotency keys for unsafe requests (``Idempotency-Key`` header), any context.

The rules of docs/API.md, enforced by PostgreSQL rather than by a check in Python:

- The first request with a key takes a transaction-level advisory lock on
  ``(scope, key)`` and, when it succeeds, stores its response in
  ``kernel.idempotency_keys`` **in the same transaction as its effect**. A failed
  request rolls back and stores nothing, so it may be retried with the same key.
- A request that finds the lock taken answers 409 at once ("in progress").
- A request that finds a stored response replays it when its fingerprint (method,
  path and canonical JSON body) matches, and answers 422 when it does not.
- Should two requests ever both get past the lock, the primary key on
  ``(scope, key)`` refuses the second one's effect (unique violation → 409).

``scope`` says whose key it is (the caller's user id): two callers never share keys.

Usage in an endpoint::

    return await idempotency.run(
        session, scope=str(principal.user_id), key=key, request=request,
        body=body, status_code=201, call=lambda: service.sell(session, ...),
    )
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import LargeBinary, SmallInteger, String, delete, insert, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fitsync.kernel import clock
from fitsync.kernel.db import Base
from fitsync.kernel.errors import Conflict, Invalid

REPLAY_HEADER = "Idempotent-Replayed"
RETENTION = timedelta(days=7)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = {"schema": "kernel"}

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[datetime]


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="A unique key per intended effect (e.g. a UUID). Replays with the same"
        " body return the stored response; another body with the same key is refused (422).",
    ),
]


def fingerprint(method: str, path: str, body: Any) -> bytes:
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).digest()


async def claim(
    session: AsyncSession, *, scope: str, key: str, print_: bytes
) -> IdempotencyRecord | None:
    """Lock ``(scope, key)`` for this transaction; the stored record to replay, or None.

    Raises 409 while another transaction holds the key and 422 when the key was used
    with another request.
    """
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"{scope}\x1f{key}"},
    )
    if not locked:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry shortly",
            headers={"Retry-After": "1"},
        )
    record = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if record is not None and record.fingerprint != print_:
        raise Invalid(
            "This Idempotency-Key was already used with a different request",
            loc=["header", "Idempotency-Key"],
        )
    return record


async def store(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    print_: bytes,
    status_code: int,
    response: Any,
) -> None:
    """Record the response in the caller's transaction (commits with the effect).

    A unique violation (another request stored this key first, which the advisory lock
    should make impossible) aborts the transaction: the effect is rolled back.
    """
    try:
        await session.execute(
            insert(IdempotencyRecord).values(
                scope=scope,
                key=key,
                fingerprint=print_,
                status_code=status_code,
                response=response,
                created_at=clock.now(),
            )
        )
    except IntegrityError:
        raise Conflict("A request with this Idempotency-Key was completed concurrently") from None


async def run(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    request: Request,
    body: Any,
    call: Callable[[], Awaitable[BaseModel]],
    status_code: int = 201,
) -> JSONResponse:
    """Run ``call`` once per ``(scope, key)``; replay its stored response afterwards."""
    print_ = fingerprint(request.method, request.url.path, body)
    record = await claim(session, scope=scope, key=key, print_=print_)
    if record is not None:
        return JSONResponse(
            record.response, status_code=record.status_code, headers={REPLAY_HEADER: "true"}
        )
    result = await call()
    payload = jsonable_encoder(result)
    await store(
        session, scope=scope, key=key, print_=print_, status_code=status_code, response=payload
    )
    return JSONResponse(payload, status_code=status_code)


async def purge(session: AsyncSession, *, older_than: timedelta = RETENTION) -> int:
    """Forget keys older than ``older_than`` (a housekeeping job); returns how many."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < clock.now() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
