"""Messaging's use cases: conversations, messages, edits and tombstones, read state.

Posting a message takes the gym's next ``seq`` (a row lock held to commit, so seqs
commit in order), stores the message, writes ``message.sent`` to the outbox and, once
committed, tells the participants' live connections and bumps their unread counters.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import bindparam, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import public as identity
from fitsync.kernel import clock, live, outbox
from fitsync.kernel.auth import Principal, Role
from fitsync.kernel.db import after_commit
from fitsync.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from fitsync.kernel.pagination import PageParams, encode_cursor
from fitsync.kernel.redis import Keys
from fitsync.messaging import domain, events
from fitsync.messaging.models import Conversation, GymCounter, Message, Participant
from fitsync.messaging.schemas import (
    AttachmentIn,
    ConversationOut,
    ConversationPage,
    LastMessage,
    MessageOut,
    MessagePage,
    ParticipantOut,
    ReadOut,
)
from fitsync.training import public as training

log = logging.getLogger("fitsync.messaging")

UNREAD_TTL_SECONDS = 24 * 3600
PRESENCE_TTL_SECONDS = 90
_BUILT = "_built"

# HINCRBY only where the counters exist: a missing hash is rebuilt from PostgreSQL.
_INCR_IF_BUILT = """
for i, key in ipairs(KEYS) do
  if redis.call('HEXISTS', key, '_built') == 1 then
    redis.call('HINCRBY', key, ARGV[1], 1)
  end
end
return 1
"""


@dataclass(frozen=True)
class MessagingRuntime:
    redis: Redis
    keys: Keys


# -- who may talk to whom ------------------------------------------------------------


async def may_contact(
    session: AsyncSession, *, principal: Principal, other: identity.UserInfo
) -> bool:
    """The one place that decides whom a caller may message (both in the caller's gym):
    staff anyone of their gym; a client their own trainers (the training context owns
    that relation) and the gym's owner."""
    mine = other.role is Role.trainer and await training.is_trainer_of(
        session, trainer_id=other.id, client_id=principal.user_id
    )
    return domain.may_contact(
        caller_role=principal.role.value, other_role=other.role, other_is_my_trainer=mine
    )


# -- conversations --------------------------------------------------------------------


def _name(user: identity.UserInfo) -> str:
    return f"{user.first_name} {user.last_name}".strip()


def conversation_out(conv: Conversation, unread: int) -> ConversationOut:
    people = conv.people or {}
    return ConversationOut(
        id=conv.id,
        is_group=conv.is_group,
        title=conv.title,
        participants=[
            ParticipantOut(
                id=pid,
                name=str(people.get(str(pid), {}).get("name", "")),
                role=str(people.get(str(pid), {}).get("role", "")),
            )
            for pid in conv.participant_ids
        ],
        participant_ids=list(conv.participant_ids),
        last_message=LastMessage(**conv.last_message) if conv.last_message else None,
        unread_count=unread,
        created_at=conv.created_at,
        last_activity_at=conv.last_activity_at,
    )


def _require_gym(principal: Principal) -> uuid.UUID:
    if principal.gym_id is None:
        raise Forbidden("Conversations belong to a gym; platform admins have none")
    return principal.gym_id


async def create_conversation(
    session: AsyncSession,
    rt: MessagingRuntime,
    *,
    principal: Principal,
    participant_ids: list[uuid.UUID],
    title: str | None,
) -> tuple[ConversationOut, bool]:
    """A new conversation, or the existing one for a 1:1 pair (``created`` False)."""
    gym_id = _require_gym(principal)
    others = [pid for pid in participant_ids if pid != principal.user_id]
    if not others:
        raise Invalid("name at least one other participant", loc=["body", "participant_ids"])
    me = await identity.get_user(session, principal.user_id)
    if me is None:
        raise NotFound("No such user")
    people: dict[str, Any] = {str(me.id): {"name": _name(me), "role": me.role}}
    for index, pid in enumerate(others):
        user = await identity.get_user(session, pid)
        if user is None or user.gym_id != gym_id or not user.is_active:
            raise Invalid(f"no such user {pid}", loc=["body", "participant_ids", index])
        if not await may_contact(session, principal=principal, other=user):
            raise Forbidden("Clients can message only their trainers and the gym's staff")
        people[str(user.id)] = {"name": _name(user), "role": user.role}
    is_group = len(others) > 1 or title is not None
    key = None if is_group else domain.pair_key(principal.user_id, others[0])
    conv_id = uuid.uuid4()
    members = [principal.user_id, *others]
    now = clock.now()
    stmt = (
        insert(Conversation)
        .values(
            id=conv_id,
            gym_id=gym_id,
            is_group=is_group,
            title=title,
            pair_key=key,
            participant_ids=members,
            people=people,
            created_by=principal.user_id,
            created_at=now,
            last_activity_at=now,
        )
        .on_conflict_do_nothing(index_elements=["gym_id", "pair_key"])
        .returning(Conversation.id)
    )
    if (await session.execute(stmt)).first() is None:
        existing = (
            await session.execute(
                select(Conversation).where(
                    Conversation.gym_id == gym_id, Conversation.pair_key == key
                )
            )
        ).scalar_one()
        unread = await unread_counts(session, rt, principal=principal, ids=[existing.id])
        return conversation_out(existing, unread.get(existing.id, 0)), False
    await session.execute(
        insert(Participant),
        [{"conversation_id": conv_id, "user_id": uid, "gym_id": gym_id} for uid in members],
    )
    conv = await session.get(Conversation, conv_id)
    assert conv is not None
    return conversation_out(conv, 0), True


async def access_conversation(
    session: AsyncSession, *, principal: Principal, conversation_id: uuid.UUID
) -> Conversation:
    """The conversation if the caller takes part in it; 404 otherwise."""
    conv = (
        await session.execute(
            select(Conversation)
            .join(Participant, Participant.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id, Participant.user_id == principal.user_id)
        )
    ).scalar_one_or_none()
    if conv is None:
        raise NotFound("No such conversation")
    return conv


async def list_conversations(
    session: AsyncSession, rt: MessagingRuntime, *, principal: Principal, page: PageParams
) -> ConversationPage:
    """The caller's conversations, most recent activity first."""
    query = (
        select(Conversation)
        .join(Participant, Participant.conversation_id == Conversation.id)
        .where(Participant.user_id == principal.user_id)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(page.limit + 1)
    )
    if page.after:
        try:
            after = (datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1]))
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        query = query.where(tuple_(Conversation.last_activity_at, Conversation.id) < after)
    convs = list((await session.execute(query)).scalars())
    more = len(convs) > page.limit
    convs = convs[: page.limit]
    unread = await unread_counts(session, rt, principal=principal, ids=[c.id for c in convs])
    cursor = (
        encode_cursor([convs[-1].last_activity_at.isoformat(), str(convs[-1].id)]) if more else None
    )
    return ConversationPage(
        items=[conversation_out(c, unread.get(c.id, 0)) for c in convs], next_cursor=cursor
    )


# -- unread counters (Redis, rebuilt from PostgreSQL) ---------------------------------


def unread_key(rt: MessagingRuntime, user_id: uuid.UUID) -> str:
    return rt.keys("unread", user_id)


async def _unread_from_db(
    session: AsyncSession, user_id: uuid.UUID, ids: list[uuid.UUID] | None = None
) -> dict[uuid.UUID, int]:
    """Messages of others after the user's read mark, per conversation: the truth."""
    query = (
        select(Participant.conversation_id, func.count(Message.id))
        .join(
            Message,
            (Message.conversation_id == Participant.conversation_id)
            & (Message.seq > Participant.last_read_seq)
            & (Message.sender_id != user_id)
            & Message.deleted_at.is_(None),
        )
        .where(Participant.user_id == user_id)
        .group_by(Participant.conversation_id)
    )
    if ids is not None:
        query = query.where(Participant.conversation_id.in_(ids))
    return {row[0]: int(row[1]) for row in await session.execute(query)}


async def rebuild_unread(
    session: AsyncSession, rt: MessagingRuntime, *, user_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    counts = await _unread_from_db(session, user_id)
    key = unread_key(rt, user_id)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping={_BUILT: 1, **{str(k): v for k, v in counts.items()}})
        pipe.expire(key, UNREAD_TTL_SECONDS)
        await pipe.execute()
    return counts


async def unread_counts(
    session: AsyncSession, rt: MessagingRuntime, *, principal: Principal, ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    key = unread_key(rt, principal.user_id)
    try:
        values = await rt.redis.hmget(key, [_BUILT, *[str(i) for i in ids]])
        if values[0] is not None:
            return {cid: int(v or 0) for cid, v in zip(ids, values[1:], strict=True)}
        counts = await rebuild_unread(session, rt, user_id=principal.user_id)
    except RedisError as exc:
        log.warning("unread counters unavailable, counting in PostgreSQL: %s", exc)
        counts = await _unread_from_db(session, principal.user_id, ids)
    return {cid: counts.get(cid, 0) for cid in ids}


async def total_unread(session: AsyncSession, rt: MessagingRuntime, *, principal: Principal) -> int:
    """Unread messages over all the caller's conversations (e.g. for a badge)."""
    try:
        values = await rt.redis.hgetall(unread_key(rt, principal.user_id))
        if values:
            return sum(int(v) for k, v in values.items() if k not in (_BUILT, _BUILT.encode()))
        counts = await rebuild_unread(session, rt, user_id=principal.user_id)
    except RedisError as exc:
        log.warning("unread counters unavailable, counting in PostgreSQL: %s", exc)
        counts = await _unread_from_db(session, principal.user_id)
    return sum(counts.values())


async def _bump_unread(rt: MessagingRuntime, user_ids: list[uuid.UUID], conv_id: uuid.UUID) -> None:
    if user_ids:
        await rt.redis.eval(
            _INCR_IF_BUILT, len(user_ids), *[unread_key(rt, u) for u in user_ids], str(conv_id)
        )


# -- messages -------------------------------------------------------------------------


def message_out(msg: Message) -> MessageOut:
    deleted = msg.deleted_at is not None
    return MessageOut(
        id=msg.id,
        conversation_id=msg.conversation_id,
        sender_id=msg.sender_id,
        text=None if deleted else msg.doc.get("text"),
        attachments=[] if deleted else msg.doc.get("attachments", []),
        created_at=msg.created_at,
        edited_at=msg.edited_at,
        deleted=deleted,
        seq=msg.seq,
    )


async def _insert_with_next_seq(session: AsyncSession, **values: Any) -> int:
    """Take the gym's next seq, store the message under it and make it the conversation's
    last message, in one round trip.

    The counter row stays locked until commit, so seqs become visible in order."""
    result = await session.execute(
        text(
            "WITH s AS ("
            "  INSERT INTO messaging.gym_counters (gym_id, last_seq) VALUES (:gym_id, 1)"
            "  ON CONFLICT (gym_id) DO UPDATE SET last_seq = messaging.gym_counters.last_seq + 1"
            "  RETURNING last_seq),"
            " m AS ("
            "  INSERT INTO messaging.messages"
            "  (id, gym_id, conversation_id, seq, sender_id, doc, created_at)"
            "  SELECT :id, :gym_id, :conversation_id, s.last_seq, :sender_id, :doc, :created_at"
            "  FROM s RETURNING seq),"
            " c AS ("
            "  UPDATE messaging.conversations"
            "  SET last_seq = greatest(last_seq, (SELECT seq FROM m)),"
            "  last_activity_at = :created_at, last_message = :last_message"
            "  WHERE id = :conversation_id RETURNING id)"
            " SELECT m.seq FROM m, (SELECT count(*) FROM c) AS updated"
        ).bindparams(bindparam("doc", type_=JSONB), bindparam("last_message", type_=JSONB)),
        values,
    )
    return int(result.scalar_one())


def _publish_after_commit(
    session: AsyncSession,
    rt: MessagingRuntime,
    user_ids: list[uuid.UUID],
    type_: str,
    data: dict[str, Any],
) -> None:
    async def publish() -> None:
        await live.publish(rt.redis, rt.keys, user_ids, type_, data)

    after_commit(session, publish)


async def post_message(
    session: AsyncSession,
    rt: MessagingRuntime,
    *,
    principal: Principal,
    conversation_id: uuid.UUID,
    text_: str,
    attachments: list[AttachmentIn],
) -> MessageOut:
    conv = await access_conversation(session, principal=principal, conversation_id=conversation_id)
    now = clock.now()
    message_id = uuid.uuid4()
    doc = {"text": text_, "attachments": [a.model_dump(mode="json") for a in attachments]}
    others = [pid for pid in conv.participant_ids if pid != principal.user_id]
    sender = (conv.people or {}).get(str(principal.user_id), {})
    await outbox.add(
        session,
        outbox.Event(
            type=events.MESSAGE_SENT,
            gym_id=conv.gym_id,
            actor_id=principal.user_id,
            data={
                "message_id": str(message_id),
                "conversation_id": str(conv.id),
                "sender_id": str(principal.user_id),
                "sender_name": sender.get("name") or "A member",
                "recipient_ids": [str(o) for o in others],
                "preview": domain.preview(text_),
            },
        ),
    )
    # From here to commit the gym's counter row is locked: one statement, then COMMIT.
    seq = await _insert_with_next_seq(
        session,
        id=message_id,
        gym_id=conv.gym_id,
        conversation_id=conv.id,
        sender_id=principal.user_id,
        doc=doc,
        created_at=now,
        last_message={
            "id": str(message_id),
            "sender_id": str(principal.user_id),
            "text": domain.preview(text_),
            "created_at": now.isoformat(),
        },
    )
    msg = Message(
        id=message_id,
        gym_id=conv.gym_id,
        conversation_id=conv.id,
        seq=seq,
        sender_id=principal.user_id,
        doc=doc,
        created_at=now,
    )
    out = message_out(msg)

    async def announce() -> None:
        with contextlib.suppress(RedisError):  # the counters heal from PostgreSQL
            await _bump_unread(rt, others, conv.id)
        await live.publish(
            rt.redis,
            rt.keys,
            conv.participant_ids,
            events.MESSAGE_SENT,
            out.model_dump(mode="json"),
        )

    after_commit(session, announce)
    return out


async def _access_message(
    session: AsyncSession, *, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Message:
    msg = (
        await session.execute(
            select(Message).where(
                Message.id == message_id, Message.conversation_id == conversation_id
            )
        )
    ).scalar_one_or_none()
    if msg is None:
        raise NotFound("No such message")
    return msg


async def list_messages(
    session: AsyncSession,
    *,
    principal: Principal,
    conversation_id: uuid.UUID,
    after: uuid.UUID | None,
    before: uuid.UUID | None,
    limit: int,
) -> MessagePage:
    """Oldest first: the messages after one (catching up), or the latest page.

    ``next_cursor`` (pass as ``after``) is set when newer messages exist beyond this page,
    ``before_cursor`` (pass as ``before``) when older ones do.
    """
    conv = await access_conversation(session, principal=principal, conversation_id=conversation_id)
    query = select(Message).where(Message.conversation_id == conv.id)
    if after is not None:
        mark = await _access_message(session, conversation_id=conv.id, message_id=after)
        query = query.where(Message.seq > mark.seq).order_by(Message.seq).limit(limit + 1)
        rows = list((await session.execute(query)).scalars())
        newer, older = len(rows) > limit, True
        rows = rows[:limit]
    else:
        if before is not None:
            mark = await _access_message(session, conversation_id=conv.id, message_id=before)
            query = query.where(Message.seq < mark.seq)
        query = query.order_by(Message.seq.desc()).limit(limit + 1)
        rows = list((await session.execute(query)).scalars())
        newer, older = before is not None, len(rows) > limit
        rows = list(reversed(rows[:limit]))
    return MessagePage(
        items=[message_out(m) for m in rows],
        next_cursor=str(rows[-1].id) if rows and newer else None,
        before_cursor=str(rows[0].id) if rows and older else None,
    )


async def edit_message(
    session: AsyncSession,
    rt: MessagingRuntime,
    *,
    principal: Principal,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    text_: str,
) -> MessageOut:
    conv = await access_conversation(session, principal=principal, conversation_id=conversation_id)
    msg = await _access_message(session, conversation_id=conv.id, message_id=message_id)
    if msg.sender_id != principal.user_id:
        raise Forbidden("Only the sender can edit a message")
    if msg.deleted_at is not None:
        raise Conflict("The message was deleted")
    msg.doc = {**msg.doc, "text": text_}
    msg.edited_at = clock.now()
    await session.flush()
    out = message_out(msg)
    _publish_after_commit(
        session, rt, conv.participant_ids, events.MESSAGE_UPDATED, out.model_dump(mode="json")
    )
    return out


async def delete_message(
    session: AsyncSession,
    rt: MessagingRuntime,
    *,
    principal: Principal,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
) -> None:
    """Leave a tombstone: the message keeps its place, its text and attachments go."""
    conv = await access_conversation(session, principal=principal, conversation_id=conversation_id)
    msg = await _access_message(session, conversation_id=conv.id, message_id=message_id)
    if msg.sender_id != principal.user_id:
        raise Forbidden("Only the sender can delete a message")
    if msg.deleted_at is not None:
        return
    msg.doc = {"deleted": True}
    msg.deleted_at = clock.now()
    await session.flush()
    out = message_out(msg)
    others = [pid for pid in conv.participant_ids if pid != principal.user_id]

    async def announce() -> None:
        with contextlib.suppress(RedisError):  # an unread deleted message no longer counts
            await rt.redis.delete(*[unread_key(rt, u) for u in others])
        await live.publish(
            rt.redis,
            rt.keys,
            conv.participant_ids,
            events.MESSAGE_DELETED,
            out.model_dump(mode="json"),
        )

    after_commit(session, announce)


async def mark_read(
    session: AsyncSession,
    rt: MessagingRuntime,
    *,
    principal: Principal,
    conversation_id: uuid.UUID,
    up_to: uuid.UUID,
) -> ReadOut:
    """Move the caller's read mark forward (never back) and tell the others."""
    conv = await access_conversation(session, principal=principal, conversation_id=conversation_id)
    mark = await _access_message(session, conversation_id=conv.id, message_id=up_to)
    await session.execute(
        update(Participant)
        .where(Participant.conversation_id == conv.id, Participant.user_id == principal.user_id)
        .values(last_read_seq=func.greatest(Participant.last_read_seq, mark.seq))
    )
    unread = (await _unread_from_db(session, principal.user_id, [conv.id])).get(conv.id, 0)
    key = unread_key(rt, principal.user_id)
    data = {
        "conversation_id": str(conv.id),
        "user_id": str(principal.user_id),
        "up_to": str(mark.id),
        "read_at": clock.now().isoformat(),
    }

    async def announce() -> None:
        with contextlib.suppress(RedisError):
            if await rt.redis.hexists(key, _BUILT):
                await rt.redis.hset(key, str(conv.id), unread)
        await live.publish(rt.redis, rt.keys, conv.participant_ids, events.CONVERSATION_READ, data)

    after_commit(session, announce)
    return ReadOut(conversation_id=conv.id, up_to=mark.id, unread_count=unread)


# -- live catch-up (the WebSocket) ----------------------------------------------------


async def seq_of(session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID) -> int | None:
    """The seq of a message in one of the user's conversations, or None."""
    return await session.scalar(
        select(Message.seq)
        .join(Participant, Participant.conversation_id == Message.conversation_id)
        .where(Message.id == message_id, Participant.user_id == user_id)
    )


async def latest_seq(session: AsyncSession, gym_id: uuid.UUID) -> int:
    return int(
        await session.scalar(select(GymCounter.last_seq).where(GymCounter.gym_id == gym_id)) or 0
    )


async def messages_after(
    session: AsyncSession, *, gym_id: uuid.UUID, cursors: dict[uuid.UUID, int], limit: int
) -> list[tuple[uuid.UUID, Message]]:
    """For several users of one gym, their messages after each one's cursor, by seq."""
    users = list(cursors)
    rows = await session.execute(
        text(
            "SELECT c.user_id, m.id, m.gym_id, m.conversation_id, m.seq, m.sender_id, m.doc,"
            " m.created_at, m.edited_at, m.deleted_at"
            " FROM unnest(CAST(:users AS uuid[]), CAST(:cursors AS bigint[])) AS c(user_id, after)"
            " JOIN messaging.participants p ON p.user_id = c.user_id"
            " JOIN messaging.messages m"
            "   ON m.conversation_id = p.conversation_id AND m.seq > c.after"
            " WHERE m.gym_id = :gym AND m.seq > :lowest"
            " ORDER BY m.seq LIMIT :n"
        ),
        {
            "users": users,
            "cursors": [cursors[u] for u in users],
            "gym": gym_id,
            "lowest": min(cursors.values()),
            "n": limit,
        },
    )
    return [
        (
            row.user_id,
            Message(
                id=row.id,
                gym_id=row.gym_id,
                conversation_id=row.conversation_id,
                seq=row.seq,
                sender_id=row.sender_id,
                doc=row.doc,
                created_at=row.created_at,
                edited_at=row.edited_at,
                deleted_at=row.deleted_at,
            ),
        )
        for row in rows
    ]


# -- presence -------------------------------------------------------------------------


def presence_key(keys: Keys, user_id: uuid.UUID) -> str:
    return keys("presence", user_id)


async def is_online(redis: Redis, keys: Keys, user_id: uuid.UUID) -> bool:
    """Whether the user has a live connection (on any server process)."""
    key = presence_key(keys, user_id)
    now = clock.now().timestamp()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        _, count = await pipe.execute()
    return int(count) > 0
