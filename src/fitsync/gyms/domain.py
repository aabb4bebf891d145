"""Gyms' pure rules: what a valid timezone, currency, branding and settings are."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_HEX_COLOR = r"^#[0-9a-fA-F]{6}$"


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_timezone(name: str) -> str:
    if name not in _zones():
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. 'Europe/Berlin')")
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise ValueError(f"unknown IANA time zone {name!r}") from None
    return name


def valid_currency(code: str) -> str:
    code = code.upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError("must be an ISO 4217 code such as 'EUR' or 'USD'")
    return code


def valid_logo_url(url: str | None) -> str | None:
    """An image address pages and emails can show: http(s), or a path on this site."""
    if not url:
        return None
    if not re.fullmatch(r"(https?://[^\s\"'<>]+|/(?!/)[^\s\"'<>]*)", url):
        raise ValueError("must be an http(s) address of an image, or a path such as /logo.svg")
    return url


Timezone = Annotated[str, AfterValidator(valid_timezone)]
Currency = Annotated[str, AfterValidator(valid_currency)]


class Branding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary_color: str = Field(default="#0f766e", pattern=_HEX_COLOR)
    accent_color: str = Field(default="#f59e0b", pattern=_HEX_COLOR)
    logo_url: Annotated[str | None, AfterValidator(valid_logo_url)] = Field(
        default=None, max_length=500
    )


class GymSettings(BaseModel):
    """Business rules a gym owner sets; other contexts read them through ``public``."""

    model_config = ConfigDict(extra="forbid")

    cancellation_window_hours: int = Field(default=12, ge=0, le=24 * 14)
    session_buffer_minutes: int = Field(default=0, ge=0, le=240)
    booking_horizon_days: int = Field(default=60, ge=1, le=365)
