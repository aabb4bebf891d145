"""Messaging's pure rules: who may talk to whom, what a message may hold."""

from __future__ import annotations

import uuid

from fitsync.kernel.auth import Role

MAX_TEXT = 4000
MAX_GROUP = 20  # participants, the creator included
MAX_ATTACHMENTS = 10
PREVIEW = 200
STAFF_ROLES = frozenset({Role.trainer.value, Role.gym_owner.value})


def pair_key(a: uuid.UUID, b: uuid.UUID) -> str:
    """The key of a 1:1 conversation: the same whoever starts it."""
    low, high = sorted((str(a), str(b)))
    return f"{low}:{high}"


def may_contact(*, caller_role: str, other_role: str, other_is_my_trainer: bool) -> bool:
    """Whether a caller may start a conversation with another member of their gym.

    Staff talk to anyone in their gym. A client talks to their own trainers and to the
    gym's owner (the front desk), never to other trainers or other clients.
    """
    if caller_role in STAFF_ROLES:
        return True
    if caller_role == Role.client.value:
        return other_role == Role.gym_owner.value or other_is_my_trainer
    return False


def preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1] + "…"
