"""Notifications' request and response bodies."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from fitsync.kernel.schemas import Input, Output
from fitsync.notifications import domain
from fitsync.notifications.channels import valid_push_keys

Channel = Literal["email", "push", "sms", "in_app"]


def _hhmm(value: str) -> str:
    domain.parse_hhmm(value)
    return value


HHMM = Annotated[str, AfterValidator(_hhmm)]


class QuietHoursIn(Input):
    start: HHMM = Field(examples=["22:00"])
    end: HHMM = Field(examples=["07:00"])


class PreferencesIn(Input):
    """Channels per event type (types left out keep their defaults) and quiet hours.

    Quiet hours are in the gym's time zone; urgent notifications (a cancelled class, a
    reminder, a waiting-list promotion) and in-app ones are never held back.
    """

    events: dict[str, list[Channel]] = Field(default_factory=dict)
    quiet_hours: QuietHoursIn | None = None
    locale: Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] = "en"
    phone: Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")] | None = Field(
        default=None, description="E.164 number for SMS, e.g. +4915112345678"
    )

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(domain.EVENT_TYPES))
        if unknown:
            known = ", ".join(domain.EVENT_TYPES)
            raise ValueError(f"unknown event type(s) {', '.join(unknown)}; known: {known}")
        return {k: sorted(set(v), key=domain.CHANNELS.index) for k, v in value.items()}


class QuietHoursOut(BaseModel):
    start: str
    end: str


class PreferencesOut(BaseModel):
    events: dict[str, list[Channel]]
    quiet_hours: QuietHoursOut | None
    locale: str
    phone: str | None
    timezone: str | None = Field(description="The time zone quiet hours are read in")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PushKeys(Input):
    p256dh: Annotated[str, Field(min_length=80, max_length=200)]
    auth: Annotated[str, Field(min_length=16, max_length=100)]


class PushSubscriptionIn(Input):
    """A standard Web Push subscription, as ``PushSubscription.toJSON()`` gives it."""

    model_config = Input.model_config | {"extra": "ignore"}  # browsers add expirationTime

    endpoint: Annotated[str, Field(max_length=2000)]
    keys: PushKeys

    @field_validator("endpoint")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        host = parts.hostname or ""
        if not host or not (
            parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host))
        ):
            raise ValueError("endpoint must be an https URL of a push service")
        return value

    @model_validator(mode="after")
    def _keys(self) -> PushSubscriptionIn:
        problem = valid_push_keys(self.keys.p256dh, self.keys.auth)
        if problem:
            raise ValueError(problem)
        return self


class PushSubscriptionOut(Output):
    id: uuid.UUID
    endpoint: str
    created_at: datetime


class PushKeyOut(BaseModel):
    public_key: str = Field(description="VAPID application server key (base64url)")


class NotificationOut(BaseModel):
    id: uuid.UUID
    type: str
    title: str
    body: str
    data: dict[str, Any]
    read_at: datetime | None
    created_at: datetime


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int


class ReadAllOut(BaseModel):
    updated: int
    unread: int
