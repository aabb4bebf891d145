"""Gyms' request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field

from fitsync.gyms.domain import Branding, Currency, GymSettings, Timezone
from fitsync.identity.public import UserInfo
from fitsync.kernel.schemas import Input, Output

Name = Annotated[str, Field(min_length=1, max_length=200)]
PersonName = Annotated[str, Field(min_length=1, max_length=100)]


class GymCreateIn(Input):
    name: Name
    timezone: Timezone
    currency: Currency
    address: Annotated[str, Field(max_length=500)] | None = None
    owner_email: EmailStr | None = None
    owner_first_name: PersonName = "Gym"
    owner_last_name: PersonName = "Owner"


class GymUpdateIn(Input):
    name: Name | None = None
    timezone: Timezone | None = None
    currency: Currency | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    branding: Branding | None = None
    settings: GymSettings | None = None


class StaffIn(Input):
    email: EmailStr
    first_name: PersonName
    last_name: PersonName


class GymSummary(Output):
    id: uuid.UUID
    name: str
    timezone: str
    currency: str


class GymOut(GymSummary):
    address: str | None
    branding: Branding
    settings: GymSettings
    member_count: int
    staff_count: int
    created_at: datetime


class GymCreatedOut(GymOut):
    owner: UserInfo | None = None
    owner_invitation_url: str | None = None


class StaffOut(Output):
    user: UserInfo
    invitation_url: str | None
