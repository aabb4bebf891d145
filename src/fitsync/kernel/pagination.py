"""Cursor pagination: ``?limit=`` (default 20, max 100) and an opaque ``?cursor=``.

The cursor is the sort key of the last item returned (keyset pagination), so pages
stay stable while rows are added and cost the same however deep one pages.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from fitsync.kernel.errors import Invalid

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PageParams:
    limit: int
    after: list[Any] | None  # the decoded sort key of the last item seen


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
    if not isinstance(key, list):
        raise Invalid("malformed cursor", loc=["query", "cursor"])
    return key


async def _page_params(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> PageParams:
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


Paging = Annotated[PageParams, Depends(_page_params)]
