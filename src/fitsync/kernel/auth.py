"""Who is calling: access tokens, the revocation check, and role dependencies.

An access token is a JWT (HS256 pinned, ``iss``/``aud``/``exp`` required and
checked) carrying ``sub, role, gym_id, sid``. Checking one costs a signature check
and one Redis ``EXISTS`` on the session's revocation key — no PostgreSQL. When
Redis cannot be reached the session is looked up in PostgreSQL instead (the
source of truth), through the ``session_is_active`` port the identity context
provides at start-up.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

from fitsync.kernel import clock
from fitsync.kernel.errors import Forbidden, Unauthorized
from fitsync.kernel.redis import Keys

ALGORITHM = "HS256"


class Role(enum.StrEnum):
    admin = "admin"
    gym_owner = "gym_owner"
    trainer = "trainer"
    client = "client"


STAFF = frozenset({Role.gym_owner, Role.trainer})


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: Role
    gym_id: uuid.UUID | None
    session_id: uuid.UUID

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


SessionCheck = Callable[[uuid.UUID], Awaitable[bool]]


class TokenService:
    """Issues and verifies access tokens; knows the revocation list."""

    def __init__(
        self,
        *,
        secret: str,
        issuer: str,
        audience: str,
        access_ttl: timedelta,
        redis: Redis,
        keys: Keys,
        session_is_active: SessionCheck | None = None,
    ) -> None:
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self.redis = redis
        self.keys = keys
        self.session_is_active = session_is_active

    def issue(
        self, *, user_id: uuid.UUID, role: str, gym_id: uuid.UUID | None, sid: uuid.UUID
    ) -> str:
        now = clock.now()
        claims = {
            "sub": str(user_id),
            "role": role,
            "gym_id": str(gym_id) if gym_id else None,
            "sid": str(sid),
            "iat": int(now.timestamp()),
            "exp": int((now + self.access_ttl).timestamp()),
            "iss": self.issuer,
            "aud": self.audience,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def decode(self, token: str) -> Principal:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "sid"]},
            )
            return Principal(
                user_id=uuid.UUID(claims["sub"]),
                role=Role(claims["role"]),
                gym_id=uuid.UUID(claims["gym_id"]) if claims.get("gym_id") else None,
                session_id=uuid.UUID(claims["sid"]),
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The access token has expired") from None
        except (jwt.InvalidTokenError, ValueError, KeyError, TypeError):
            raise Unauthorized("The access token is invalid") from None

    def _revoked_key(self, sid: uuid.UUID) -> str:
        return self.keys("revoked", sid)

    async def revoke(self, sids: list[uuid.UUID]) -> None:
        """Deny every access token of these sessions for the rest of their life."""
        ttl = int(self.access_ttl.total_seconds()) + 60
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.set(self._revoked_key(sid), "1", ex=ttl)
            await pipe.execute()

    async def authenticate(self, token: str) -> Principal:
        principal, _ = await self.authenticate_and_get(token, lambda _p: [])
        return principal

    async def authenticate_and_get(
        self, token: str, keys: Callable[[Principal], list[str]]
    ) -> tuple[Principal, list[str | None]]:
        """Check the token, and read ``keys(principal)`` in the same Redis round trip.

        A hot endpoint (GET /users/me) gets its cached answer with no extra latency.
        The extra values are None when Redis is down.
        """
        principal = self.decode(token)
        extra = keys(principal)
        try:
            revoked, *values = await self.redis.mget(
                self._revoked_key(principal.session_id), *extra
            )
        except (RedisError, OSError):
            if self.session_is_active is None:
                raise
            revoked, values = None, [None] * len(extra)
            if not await self.session_is_active(principal.session_id):
                revoked = "1"
        if revoked is not None:
            raise Unauthorized("The session has ended; sign in again")
        return principal, [None if v is None else str(v) for v in values]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Use 'Authorization: Bearer <access_token>'")
    return token.strip()


async def optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    principal = await request.app.state.container.tokens.authenticate(token)
    assert isinstance(principal, Principal)
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only the given roles through (403 for the others)."""
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"This needs one of the roles: {', '.join(sorted(allowed))}")
        return principal

    return check
