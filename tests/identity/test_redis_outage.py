"""With Redis down, PostgreSQL decides whether a session is still alive."""

from __future__ import annotations

import httpx
import pytest

from fitsync.bootstrap import Container
from fitsync.kernel.auth import TokenService
from fitsync.kernel.errors import Unauthorized
from fitsync.kernel.redis import make_redis
from tests.factories import make_gym, signed_in


async def test_token_check_falls_back_to_the_database(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = await signed_in(client, container, gym_id=await make_gym(container))
    dead = make_redis("redis://127.0.0.1:1/0")
    tokens = container.tokens
    outage = TokenService(
        secret=tokens.secret,
        issuer=tokens.issuer,
        audience=tokens.audience,
        access_ttl=tokens.access_ttl,
        redis=dead,
        keys=tokens.keys,
        session_is_active=tokens.session_is_active,
    )
    try:
        principal = await outage.authenticate(account.token)
        assert principal.user_id == account.id
        await client.post("/auth/logout", headers=account.headers)
        with pytest.raises(Unauthorized):
            await outage.authenticate(account.token)
    finally:
        await dead.aclose()
