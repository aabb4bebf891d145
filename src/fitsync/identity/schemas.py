"""Identity's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field

from fitsync.kernel.auth import Role
from fitsync.kernel.schemas import Input, Output

Name = Annotated[str, Field(min_length=1, max_length=100)]
Password = Annotated[str, Field(min_length=1, max_length=256)]


class RegisterIn(Input):
    email: EmailStr
    password: Password
    first_name: Name
    last_name: Name
    gym_id: uuid.UUID | None = None


class LoginIn(Input):
    email: Annotated[str, Field(min_length=1, max_length=320)]
    password: Password


class RefreshIn(Input):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class UpdateMeIn(Input):
    first_name: Name | None = None
    last_name: Name | None = None


class CreateUserIn(Input):
    email: EmailStr
    first_name: Name
    last_name: Name
    role: Role
    gym_id: uuid.UUID | None = None
    password: Password | None = Field(
        default=None, description="Leave out to send an invitation instead"
    )


class RoleIn(Input):
    role: Role


class AcceptInvitationIn(Input):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    password: Password


class UserOut(Output):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: Role
    gym_id: uuid.UUID | None
    is_active: bool
    created_at: datetime


class TokenOut(Output):
    user: UserOut
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int


class CreatedUserOut(UserOut):
    invitation_url: str | None = None
