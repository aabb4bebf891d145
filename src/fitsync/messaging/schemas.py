"""Messaging's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, Field, field_validator

from fitsync.kernel.schemas import Input
from fitsync.messaging import domain

Text = Annotated[str, Field(min_length=1, max_length=domain.MAX_TEXT)]


class ConversationIn(Input):
    participant_ids: Annotated[
        list[uuid.UUID], Field(min_length=1, max_length=domain.MAX_GROUP - 1)
    ] = Field(description="The others; the caller is added. One id (and no title): a 1:1")
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @field_validator("participant_ids")
    @classmethod
    def _unique(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(dict.fromkeys(value))


class AttachmentIn(Input):
    """A reference to a file stored elsewhere (FitSync keeps only the reference)."""

    url: AnyHttpUrl
    name: Annotated[str, Field(min_length=1, max_length=200)]
    content_type: Annotated[str, Field(max_length=100)] | None = None
    size_bytes: Annotated[int, Field(ge=0)] | None = None


class MessageIn(Input):
    text: Text
    attachments: Annotated[list[AttachmentIn], Field(max_length=domain.MAX_ATTACHMENTS)] = []


class MessageEditIn(Input):
    text: Text


class ReadIn(Input):
    up_to: uuid.UUID


class Attachment(BaseModel):
    url: str
    name: str
    content_type: str | None = None
    size_bytes: int | None = None


class MessageOut(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    text: str | None = Field(description="None once deleted")
    attachments: list[Attachment]
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    seq: int = Field(description="Position among the gym's messages, in commit order")


class LastMessage(BaseModel):
    id: uuid.UUID
    sender_id: uuid.UUID
    text: str | None
    created_at: datetime


class ParticipantOut(BaseModel):
    id: uuid.UUID
    name: str
    role: str


class ConversationOut(BaseModel):
    id: uuid.UUID
    is_group: bool
    title: str | None
    participants: list[ParticipantOut]
    participant_ids: list[uuid.UUID]
    last_message: LastMessage | None
    unread_count: int
    created_at: datetime
    last_activity_at: datetime


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class MessagePage(BaseModel):
    items: list[MessageOut] = Field(description="Oldest first")
    next_cursor: str | None = Field(
        description="Pass as `after` for the next messages; null when there are none yet"
    )
    before_cursor: str | None = Field(
        default=None, description="Pass as `before` for older messages; null at the start"
    )


class ReadOut(BaseModel):
    conversation_id: uuid.UUID
    up_to: uuid.UUID
    unread_count: int
