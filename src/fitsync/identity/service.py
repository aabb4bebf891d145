"""Identity's use cases: registration, sign-in, token rotation, sign-out, user admin."""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fitsync.identity import events
from fitsync.identity.domain import Passwords, new_opaque_token, password_problem, token_digest
from fitsync.identity.models import Invitation, Session, SpentRefreshToken, User
from fitsync.identity.schemas import TokenOut, UserOut
from fitsync.kernel import clock, outbox
from fitsync.kernel.auth import Principal, Role, TokenService
from fitsync.kernel.db import set_tenant, unique_violation
from fitsync.kernel.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from fitsync.kernel.pagination import Page, PageParams, encode_cursor
from fitsync.kernel.redis import Keys

log = logging.getLogger("fitsync.identity")

PROFILE_CACHE_SECONDS = 300
INVITATION_DAYS = 7


@dataclass(frozen=True)
class Throttle:
    max_failures_account: int
    max_failures_ip: int
    window_seconds: int


class GymDirectory(Protocol):
    """What identity needs to know of gyms; the composition root plugs gyms' public API in."""

    async def exists(self, session: AsyncSession, gym_id: uuid.UUID) -> bool: ...

    async def sole_gym_id(self, session: AsyncSession) -> uuid.UUID | None: ...


@dataclass(frozen=True)
class IdentityRuntime:
    """What identity's use cases need besides the database session."""

    gyms: GymDirectory
    passwords: Passwords
    tokens: TokenService
    redis: Redis
    keys: Keys
    refresh_ttl: timedelta
    throttle: Throttle
    public_url: str


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user)


def _check_password(password: str, email: str) -> None:
    problem = password_problem(password, email=email)
    if problem:
        raise Invalid(f"password {problem}", loc=["body", "password"])


async def _hash(rt: IdentityRuntime, password: str) -> str:
    return await anyio.to_thread.run_sync(rt.passwords.hash, password)


async def _insert_user(session: AsyncSession, **values: object) -> User:
    user = User(**values)
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if unique_violation(exc):
            raise Conflict("An account with this email already exists") from None
        raise
    await session.refresh(user)
    return user


async def register(
    session: AsyncSession,
    rt: IdentityRuntime,
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    gym_id: uuid.UUID | None,
) -> UserOut:
    """A new client of a gym; emits ``user.registered``."""
    email = email.lower()
    _check_password(password, email)
    if gym_id is None:
        gym_id = await rt.gyms.sole_gym_id(session)
        if gym_id is None:
            raise Invalid("gym_id is required: choose the gym to join", loc=["body", "gym_id"])
    await set_tenant(session, gym_id)
    if not await rt.gyms.exists(session, gym_id):
        raise Invalid("no such gym", loc=["body", "gym_id"])
    user = await _insert_user(
        session,
        email=email,
        password_hash=await _hash(rt, password),
        first_name=first_name,
        last_name=last_name,
        role=Role.client.value,
        gym_id=gym_id,
    )
    await _emit_registered(session, user, actor_id=user.id)
    return user_out(user)


async def _emit_registered(
    session: AsyncSession, user: User, *, actor_id: uuid.UUID | None
) -> None:
    await outbox.add(
        session,
        outbox.Event(
            type=events.USER_REGISTERED,
            gym_id=user.gym_id,
            actor_id=actor_id,
            data={
                "user_id": str(user.id),
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "role": user.role,
            },
        ),
    )


# -- sign-in and throttling ----------------------------------------------------------


async def _throttle_check(rt: IdentityRuntime, email: str, ip: str) -> None:
    acct, addr = rt.keys("login", "fail", "acct", email), rt.keys("login", "fail", "ip", ip)
    try:
        async with rt.redis.pipeline(transaction=False) as pipe:
            for key in (acct, addr):
                pipe.get(key)
                pipe.ttl(key)
            acct_n, acct_ttl, ip_n, ip_ttl = await pipe.execute()
    except RedisError as exc:  # fail open: sign-in stays possible while Redis is down
        log.warning("login throttling unavailable: %s", exc)
        return
    if int(acct_n or 0) >= rt.throttle.max_failures_account:
        raise RateLimited(
            "Too many failed sign-ins for this account; try again later",
            retry_after=int(acct_ttl),
        )
    if int(ip_n or 0) >= rt.throttle.max_failures_ip:
        raise RateLimited(
            "Too many failed sign-ins from this address; try again later",
            retry_after=int(ip_ttl),
        )


async def _throttle_fail(rt: IdentityRuntime, email: str, ip: str) -> None:
    window = rt.throttle.window_seconds
    try:
        async with rt.redis.pipeline(transaction=True) as pipe:
            for key in (
                rt.keys("login", "fail", "acct", email),
                rt.keys("login", "fail", "ip", ip),
            ):
                pipe.incr(key)
                pipe.expire(key, window, nx=True)
            await pipe.execute()
    except RedisError as exc:
        log.warning("login throttling unavailable: %s", exc)


async def login(
    session: AsyncSession,
    rt: IdentityRuntime,
    *,
    email: str,
    password: str,
    ip: str,
    user_agent: str | None,
) -> TokenOut:
    email = email.strip().lower()
    await _throttle_check(rt, email, ip)
    await set_tenant(session, None, all_gyms=True)  # the gym is not known before sign-in
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    ok = await anyio.to_thread.run_sync(
        rt.passwords.verify, user.password_hash if user else None, password
    )
    if user is None or not ok or not user.is_active:
        await _throttle_fail(rt, email, ip)
        raise Unauthorized("Wrong email or password")
    with contextlib.suppress(RedisError):
        await rt.redis.delete(rt.keys("login", "fail", "acct", email))
    if user.password_hash and rt.passwords.needs_rehash(user.password_hash):
        user.password_hash = await _hash(rt, password)
    return await _open_session(session, rt, user, ip=ip, user_agent=user_agent)


async def _open_session(
    session: AsyncSession, rt: IdentityRuntime, user: User, *, ip: str, user_agent: str | None
) -> TokenOut:
    refresh, digest = new_opaque_token()
    sid = uuid.uuid4()
    session.add(
        Session(
            id=sid,
            user_id=user.id,
            gym_id=user.gym_id,
            refresh_token_hash=digest,
            ip=ip or None,
            user_agent=(user_agent or "")[:400] or None,
            expires_at=clock.now() + rt.refresh_ttl,
        )
    )
    await session.flush()
    return _token_pair(rt, user, sid, refresh)


def _token_pair(rt: IdentityRuntime, user: User, sid: uuid.UUID, refresh: str) -> TokenOut:
    return TokenOut(
        user=user_out(user),
        access_token=rt.tokens.issue(user_id=user.id, role=user.role, gym_id=user.gym_id, sid=sid),
        refresh_token=refresh,
        expires_in=int(rt.tokens.access_ttl.total_seconds()),
    )


async def refresh(session: AsyncSession, rt: IdentityRuntime, *, refresh_token: str) -> TokenOut:
    """Exchange a refresh token for a new pair; a spent one revokes its whole family."""
    await set_tenant(session, None, all_gyms=True)
    old = token_digest(refresh_token)
    new_token, new_digest = new_opaque_token()
    now = clock.now()
    row = (
        await session.execute(
            update(Session)
            .where(
                Session.refresh_token_hash == old,
                Session.revoked_at.is_(None),
                Session.expires_at > now,
            )
            .values(refresh_token_hash=new_digest, expires_at=now + rt.refresh_ttl)
            .returning(Session.id, Session.user_id, Session.gym_id)
        )
    ).first()
    if row is None:
        spent = await session.get(SpentRefreshToken, old)
        if spent is not None:
            await _revoke_sessions(session, rt, [spent.session_id], reason="refresh_reuse")
            log.warning("refresh token reuse: session family %s revoked", spent.session_id)
            raise Unauthorized(
                "This refresh token was already used; the session has been ended",
                keep_changes=True,
            )
        raise Unauthorized("The refresh token is invalid or expired")
    await session.execute(
        insert(SpentRefreshToken).values(token_hash=old, session_id=row.id, gym_id=row.gym_id)
    )
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The account is disabled")
    return _token_pair(rt, user, row.id, new_token)


async def _revoke_sessions(
    session: AsyncSession, rt: IdentityRuntime, sids: list[uuid.UUID], *, reason: str
) -> None:
    if not sids:
        return
    await session.execute(
        update(Session)
        .where(Session.id.in_(sids), Session.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )
    # Committed or not, the denylist entry only ever makes access stricter.
    try:
        await rt.tokens.revoke(sids)
    except RedisError as exc:  # the database stays the source of truth
        log.warning("could not write the token denylist: %s", exc)


async def logout(session: AsyncSession, rt: IdentityRuntime, *, principal: Principal) -> None:
    await _revoke_sessions(session, rt, [principal.session_id], reason="logout")


async def session_is_active(session: AsyncSession, sid: uuid.UUID) -> bool:
    await set_tenant(session, None, all_gyms=True)
    found = await session.execute(
        select(Session.id).where(
            Session.id == sid, Session.revoked_at.is_(None), Session.expires_at > clock.now()
        )
    )
    return found.first() is not None


# -- profiles ------------------------------------------------------------------------


def profile_key(rt: IdentityRuntime, user_id: uuid.UUID) -> str:
    """Where the JSON of a user's profile is cached (GET /users/me)."""
    return rt.keys("profile", user_id)


async def _cache_profile(rt: IdentityRuntime, profile: UserOut) -> None:
    with contextlib.suppress(RedisError):
        await rt.redis.set(
            profile_key(rt, profile.id), profile.model_dump_json(), ex=PROFILE_CACHE_SECONDS
        )


async def _forget_profile(rt: IdentityRuntime, user_id: uuid.UUID) -> None:
    try:
        await rt.redis.delete(profile_key(rt, user_id))
    except RedisError as exc:
        log.warning("could not drop the cached profile of %s: %s", user_id, exc)


async def get_me(session: AsyncSession, rt: IdentityRuntime, *, principal: Principal) -> UserOut:
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    profile = user_out(user)
    await _cache_profile(rt, profile)
    return profile


async def update_me(
    session: AsyncSession,
    rt: IdentityRuntime,
    *,
    principal: Principal,
    changes: dict[str, object],
) -> UserOut:
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    for name, value in changes.items():
        setattr(user, name, value)
    user.updated_at = clock.now()
    await session.flush()
    await _forget_profile(rt, user.id)
    return user_out(user)


async def access_user(session: AsyncSession, *, principal: Principal, user_id: uuid.UUID) -> User:
    """The user, if the caller may see them; 404 otherwise (also for other gyms)."""
    user = await session.get(User, user_id)
    visible = user is not None and (
        principal.is_admin
        or user.id == principal.user_id
        or (principal.is_staff and user.gym_id == principal.gym_id)
    )
    if not visible or user is None:
        raise NotFound("No such user")
    return user


async def list_users(
    session: AsyncSession,
    *,
    principal: Principal,
    role: Role | None,
    page: PageParams,
    gym_id: uuid.UUID | None = None,
) -> Page[UserOut]:
    """Users in creation order; a gym owner sees their gym's, an admin any gym's or all."""
    query = select(User).order_by(User.created_at, User.id).limit(page.limit + 1)
    if not principal.is_admin:
        if principal.role is not Role.gym_owner:
            raise Forbidden("Only admins and gym owners can list users")
        if gym_id not in (None, principal.gym_id):
            raise NotFound("No such gym")
        gym_id = principal.gym_id
    if gym_id is not None:
        query = query.where(User.gym_id == gym_id)
    if role is not None:
        query = query.where(User.role == role.value)
    if page.after:
        try:
            after = (datetime.fromisoformat(page.after[0]), uuid.UUID(page.after[1]))
        except (ValueError, IndexError, TypeError):
            raise Invalid("malformed cursor", loc=["query", "cursor"]) from None
        query = query.where(tuple_(User.created_at, User.id) > after)
    users = list((await session.execute(query)).scalars())
    more = len(users) > page.limit
    users = users[: page.limit]
    cursor = encode_cursor([users[-1].created_at.isoformat(), str(users[-1].id)]) if more else None
    return Page[UserOut](items=[user_out(u) for u in users], next_cursor=cursor)


async def create_user(
    session: AsyncSession,
    rt: IdentityRuntime,
    *,
    actor_id: uuid.UUID | None,
    email: str,
    first_name: str,
    last_name: str,
    role: Role,
    gym_id: uuid.UUID | None,
    password: str | None,
) -> tuple[UserOut, str | None]:
    """A user made by an admin or a gym owner: with a password, or invited to set one.

    Returns the user and, for an invitation, the link that lets them set a password.
    """
    email = email.lower()
    if role is Role.admin:
        if gym_id is not None:
            raise Invalid("an admin belongs to no gym", loc=["body", "gym_id"])
        await set_tenant(session, None, all_gyms=True)
    else:
        if gym_id is None:
            raise Invalid(f"a {role.value} must belong to a gym", loc=["body", "gym_id"])
        await set_tenant(session, gym_id)
        if not await rt.gyms.exists(session, gym_id):
            raise Invalid("no such gym", loc=["body", "gym_id"])
    if password is not None:
        _check_password(password, email)
    user = await _insert_user(
        session,
        email=email,
        password_hash=await _hash(rt, password) if password else None,
        first_name=first_name,
        last_name=last_name,
        role=role.value,
        gym_id=gym_id,
    )
    link = None
    if password is None:
        token, digest = new_opaque_token()
        session.add(
            Invitation(
                token_hash=digest,
                user_id=user.id,
                gym_id=gym_id,
                expires_at=clock.now() + timedelta(days=INVITATION_DAYS),
            )
        )
        await session.flush()
        link = f"{rt.public_url}/invitations/{token}"
    await _emit_registered(session, user, actor_id=actor_id)
    return user_out(user), link


async def accept_invitation(
    session: AsyncSession, rt: IdentityRuntime, *, token: str, password: str
) -> UserOut:
    await set_tenant(session, None, all_gyms=True)
    invitation = await session.get(Invitation, token_digest(token), with_for_update=True)
    if invitation is None or invitation.used_at or invitation.expires_at <= clock.now():
        raise NotFound("This invitation is unknown, used or expired")
    user = await session.get(User, invitation.user_id)
    assert user is not None
    _check_password(password, user.email)
    user.password_hash = await _hash(rt, password)
    invitation.used_at = clock.now()
    await session.flush()
    return user_out(user)


async def change_role(
    session: AsyncSession, rt: IdentityRuntime, *, user_id: uuid.UUID, role: Role
) -> UserOut:
    """Admin: a new role; the user's sessions end so the new role applies at once."""
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user")
    if (role is Role.admin) != (user.role == Role.admin.value):
        raise Invalid(
            "admins belong to no gym and gym members to one: create a new account instead",
            loc=["body", "role"],
        )
    user.role = role.value
    user.updated_at = clock.now()
    live = (
        await session.execute(
            select(Session.id).where(Session.user_id == user.id, Session.revoked_at.is_(None))
        )
    ).scalars()
    await _revoke_sessions(session, rt, list(live), reason="role_changed")
    await session.flush()
    await _forget_profile(rt, user.id)
    return user_out(user)
