"""Notifications' pure rules: who hears of which event, on which channels, and when.

No I/O here. The events and the ``data`` fields each one must carry are listed in
``SPECS`` (the producers' side of the contract is in README.md, "Notifications").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

EMAIL, PUSH, SMS, IN_APP = "email", "push", "sms", "in_app"
CHANNELS: tuple[str, ...] = (EMAIL, PUSH, SMS, IN_APP)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)


def _ids(*fields: str) -> Callable[[Mapping[str, Any]], list[uuid.UUID]]:
    """Recipients read from ``data``: single ids or lists of ids, in order, no repeats."""

    def pick(data: Mapping[str, Any]) -> list[uuid.UUID]:
        found: list[uuid.UUID] = []
        for name in fields:
            value = data.get(name)
            values = value if isinstance(value, list) else [value]
            for item in values:
                if item in (None, ""):
                    continue
                user_id = uuid.UUID(str(item))
                if user_id not in found:
                    found.append(user_id)
        return found

    return pick


@dataclass(frozen=True)
class Spec:
    """How one event type becomes notifications."""

    recipients: Callable[[Mapping[str, Any]], list[uuid.UUID]]
    required: tuple[str, ...]  # data fields the templates rely on
    default_channels: tuple[str, ...]
    urgent: bool = False  # urgent messages ignore quiet hours
    only_if_offline: bool = False  # skip when the recipient has a live connection


SPECS: dict[str, Spec] = {
    "user.registered": Spec(_ids("user_id"), ("user_id", "first_name"), (EMAIL, IN_APP)),
    "booking.created": Spec(
        _ids("client_id"),
        ("booking_id", "client_id", "starts_at", "title"),
        (EMAIL, PUSH, IN_APP),
    ),
    "booking.cancelled": Spec(
        _ids("client_id"),
        ("booking_id", "client_id", "starts_at", "title"),
        (EMAIL, PUSH, IN_APP),
    ),
    "booking.reminder": Spec(
        _ids("client_id"),
        ("booking_id", "client_id", "starts_at", "title"),
        (EMAIL, PUSH, IN_APP),
        urgent=True,
    ),
    "waitlist.promoted": Spec(
        _ids("client_id"),
        ("booking_id", "client_id", "starts_at", "title"),
        (EMAIL, PUSH, IN_APP),
        urgent=True,
    ),
    "class.cancelled": Spec(
        _ids("client_ids"),
        ("class_id", "client_ids", "starts_at", "title"),
        (EMAIL, PUSH, SMS, IN_APP),
        urgent=True,
    ),
    "program.assigned": Spec(
        _ids("client_id"),
        ("assignment_id", "program_id", "program_name", "client_id"),
        (EMAIL, PUSH, IN_APP),
    ),
    "achievement.earned": Spec(
        _ids("client_id", "user_id"), ("achievement_id", "name"), (PUSH, IN_APP)
    ),
    "message.sent": Spec(
        _ids("recipient_ids"),
        ("message_id", "conversation_id", "sender_id", "recipient_ids", "sender_name", "preview"),
        (PUSH, EMAIL),
        only_if_offline=True,
    ),
}

EVENT_TYPES: tuple[str, ...] = tuple(SPECS)


def missing_fields(event_type: str, data: Mapping[str, Any]) -> list[str]:
    return [name for name in SPECS[event_type].required if data.get(name) in (None, "")]


# -- preferences ----------------------------------------------------------------------

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def parse_hhmm(value: str) -> time:
    if not _HHMM.match(value):
        raise ValueError("use 24-hour HH:MM, e.g. '22:00'")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight


def effective_channels(event_type: str, chosen: Mapping[str, list[str]]) -> list[str]:
    """The user's channels for this event type, the defaults when they chose none."""
    if event_type in chosen:
        return [c for c in CHANNELS if c in chosen[event_type]]
    return list(SPECS[event_type].default_channels)


def send_at(
    now: datetime, *, channel: str, urgent: bool, quiet: QuietHours | None, timezone: str
) -> datetime:
    """When a delivery may go out: now, or the end of the recipient's quiet hours.

    Quiet hours are local to the recipient (the gym's time zone); in-app notifications
    make no sound and are never held back, nor are urgent ones.
    """
    if quiet is None or urgent or channel == IN_APP:
        return now
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return now
    day = local.date()
    if quiet.start > quiet.end and local.time().replace(tzinfo=None) >= quiet.start:
        day += timedelta(days=1)  # started tonight, ends tomorrow morning
    # Wall-clock end in the zone; fold=0 and a round trip through UTC settle DST gaps.
    end = datetime.combine(day, quiet.end, tzinfo=zone)
    return end.astimezone(UTC)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after ``attempts`` failed tries: 30 s, 1 min, 2 min … 1 h."""
    delay: timedelta = FIRST_RETRY * (2 ** max(0, attempts - 1))
    return delay if delay < MAX_RETRY else MAX_RETRY
