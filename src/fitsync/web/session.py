"""Browser sessions: the same tokens as the API, kept in HttpOnly cookies, plus CSRF.

- ``fs_access`` (the 15-minute access token) and ``fs_refresh`` (the refresh token) are
  HttpOnly, SameSite=Lax, and Secure when the site is served over HTTPS. When the access
  token has expired, the page transparently rotates the pair with the refresh token.
- Every form carries a CSRF token equal to the ``fs_csrf`` cookie (double submit); a POST
  whose field and cookie differ is refused with 403.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from fastapi import Request, Response

from fitsync.identity import service as identity
from fitsync.identity.schemas import TokenOut
from fitsync.kernel.auth import Principal
from fitsync.kernel.db import transaction
from fitsync.kernel.errors import Forbidden, Unauthorized

ACCESS, REFRESH, CSRF = "fs_access", "fs_refresh", "fs_csrf"
CSRF_HEADER = "X-CSRF-Token"  # how scripts (and htmx) send the token instead of a form field


@dataclass
class CookieJar:
    """Cookies a page wants to set or clear on its response."""

    to_set: dict[str, tuple[str, int, bool]] = field(default_factory=dict)
    to_clear: set[str] = field(default_factory=set)

    def apply(self, request: Request, response: Response) -> None:
        secure = request.url.scheme == "https"
        for name, (value, max_age, http_only) in self.to_set.items():
            response.set_cookie(
                name, value, max_age=max_age, httponly=http_only, secure=secure, samesite="lax"
            )
        for name in self.to_clear:
            response.delete_cookie(name)


def jar(request: Request) -> CookieJar:
    existing = getattr(request.state, "cookie_jar", None)
    if isinstance(existing, CookieJar):
        return existing
    request.state.cookie_jar = CookieJar()
    return request.state.cookie_jar  # type: ignore[no-any-return]


def csrf_token(request: Request) -> str:
    """The token forms must echo; issued as a cookie on first sight."""
    token = request.cookies.get(CSRF) or getattr(request.state, "csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        jar(request).to_set[CSRF] = (token, 60 * 60 * 24 * 7, True)
    request.state.csrf = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise Forbidden("The form has expired or did not come from this site; reload and retry")


def keep_tokens(request: Request, pair: TokenOut, refresh_days: int) -> None:
    cookies = jar(request)
    cookies.to_set[ACCESS] = (pair.access_token, pair.expires_in, True)
    cookies.to_set[REFRESH] = (pair.refresh_token, refresh_days * 86400, True)


def forget_tokens(request: Request) -> None:
    jar(request).to_clear |= {ACCESS, REFRESH}


async def browser_principal(request: Request) -> Principal | None:
    """The signed-in user of this browser, refreshing an expired access token."""
    container = request.app.state.container
    access, refresh = request.cookies.get(ACCESS), request.cookies.get(REFRESH)
    if access:
        try:
            return await container.tokens.authenticate(access)  # type: ignore[no-any-return]
        except Unauthorized:
            pass
    if not refresh:
        if access:
            forget_tokens(request)
        return None
    try:
        async with transaction(container.sessionmaker, all_gyms=True) as session:
            pair = await identity.refresh(session, container.identity, refresh_token=refresh)
    except Unauthorized:
        forget_tokens(request)
        return None
    keep_tokens(request, pair, container.settings.refresh_token_days)
    return await container.tokens.authenticate(pair.access_token)  # type: ignore[no-any-return]
