"""Scheduling's request and response bodies."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import datetime, time
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, field_validator, model_validator

from fitsync.kernel.schemas import Input, Output
from fitsync.scheduling import domain

Weekday = Annotated[int, Field(ge=1, le=7, description="ISO 8601: 1 = Monday … 7 = Sunday")]
Minutes = Annotated[int, Field(ge=5, le=600)]
Title = Annotated[str, Field(min_length=1, max_length=200)]


def _whole_minute(value: time | None) -> time | None:
    if value is not None and (value.second or value.microsecond or value.tzinfo):
        raise ValueError("use a local wall-clock time in whole minutes, e.g. '09:30'")
    return value


class RuleIn(Input):
    weekday: Weekday
    start_time: time
    end_time: time

    _minutes = field_validator("start_time", "end_time")(_whole_minute)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time")
        return self


class ExceptionIn(Input):
    date: dt.date
    start_time: time | None = None
    end_time: time | None = None
    unavailable: bool = True

    _minutes = field_validator("start_time", "end_time")(_whole_minute)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.start_time is None) != (self.end_time is None):
            raise ValueError("give both start_time and end_time, or neither (whole day)")
        if self.start_time is None and not self.unavailable:
            raise ValueError("changed hours (unavailable: false) need start_time and end_time")
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time")
        return self


class AvailabilityIn(Input):
    rules: Annotated[list[RuleIn], Field(max_length=100)]
    exceptions: Annotated[list[ExceptionIn], Field(max_length=1000)] = []
    breaks: Annotated[list[RuleIn], Field(max_length=100)] = []
    slot_minutes: Annotated[int, Field(ge=5, le=240)] = domain.DEFAULT_SLOT_MINUTES
    durations: Annotated[list[Minutes], Field(min_length=1, max_length=20)] = list(
        domain.DEFAULT_DURATIONS
    )


class AvailabilityOut(AvailabilityIn):
    trainer_id: uuid.UUID
    timezone: str
    updated_at: datetime | None


class SlotOut(Output):
    starts_at: datetime
    ends_at: datetime


class SlotsOut(Output):
    items: list[SlotOut]


class ClassIn(Input):
    title: Title
    trainer_id: uuid.UUID
    starts_at: AwareDatetime
    duration_minutes: Minutes
    capacity: Annotated[int, Field(ge=1, le=1000)]
    location: Annotated[str, Field(max_length=200)] | None = None
    recurrence: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None, description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,WE;COUNT=20"
    )


class ClassUpdateIn(Input):
    title: Title | None = None
    location: Annotated[str, Field(max_length=200)] | None = None
    capacity: Annotated[int, Field(ge=1, le=1000)] | None = None
    starts_at: AwareDatetime | None = None
    duration_minutes: Minutes | None = None
    apply_to: Literal["occurrence", "series"] = Field(
        default="occurrence",
        description="'series': this and every later occurrence of its series",
    )


class ClassCancelIn(Input):
    apply_to: Literal["occurrence", "series"] = "occurrence"


class ClassOut(Output):
    id: uuid.UUID
    title: str
    trainer_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    waitlist: int
    status: Literal["scheduled", "cancelled"]
    location: str | None
    series_id: uuid.UUID | None


class ClassCreatedOut(ClassOut):
    occurrences: int = Field(description="how many occurrences were scheduled (1 if one-off)")


class BookingIn(Input):
    class_id: uuid.UUID | None = None
    trainer_id: uuid.UUID | None = None
    starts_at: AwareDatetime | None = None
    duration_minutes: Minutes | None = None
    client_id: uuid.UUID | None = Field(
        default=None, description="staff booking for a client; clients book for themselves"
    )
    join_waitlist: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        one_to_one = (self.trainer_id, self.starts_at, self.duration_minutes)
        if self.class_id is not None:
            if any(v is not None for v in one_to_one):
                raise ValueError("give class_id, or trainer_id with starts_at and duration_minutes")
        elif any(v is None for v in one_to_one):
            raise ValueError("give class_id, or trainer_id with starts_at and duration_minutes")
        return self


BookingStatus = Literal["confirmed", "waitlisted", "cancelled", "attended", "no_show"]


class BookingOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    trainer_id: uuid.UUID
    class_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    status: BookingStatus
    late_cancel: bool
    waitlist_position: int | None
    created_at: datetime


class CalendarOut(Output):
    url: str
    token: str
