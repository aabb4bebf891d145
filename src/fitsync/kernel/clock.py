"""Time, through one clock that tests can set. ``datetime.now()`` appears only here."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that stands still until moved; for tests."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


_clock: Clock = Clock()


def now() -> datetime:
    return _clock.now()


def set_clock(clock: Clock) -> Clock:
    """Replace the clock; returns the previous one so a test can put it back."""
    global _clock
    previous, _clock = _clock, clock
    return previous
