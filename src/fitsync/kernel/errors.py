"""Errors as RFC 9457 problem details, for ours and for the framework's."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

log = logging.getLogger("fitsync")

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status = 400
    title = "Bad request"
    type_suffix = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
        **extra: Any,
    ):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.keep_changes = keep_changes  # commit the transaction although the request fails
        self.extra = extra


class Invalid(AppError):
    status = 422
    title = "Invalid input"
    type_suffix = "invalid"

    def __init__(self, detail: str, *, loc: list[str | int] | None = None, **extra: Any):
        if loc is not None:
            extra.setdefault("errors", [{"loc": loc, "msg": detail}])
        super().__init__(detail, **extra)


class Unauthorized(AppError):
    status = 401
    title = "Not authenticated"
    type_suffix = "unauthorized"

    def __init__(self, detail: str = "Missing or invalid credentials", **extra: Any):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(AppError):
    status = 403
    title = "Forbidden"
    type_suffix = "forbidden"


class NotFound(AppError):
    status = 404
    title = "Not found"
    type_suffix = "not-found"


class Conflict(AppError):
    status = 409
    title = "Conflict"
    type_suffix = "conflict"


class TooLarge(AppError):
    status = 413
    title = "Request too large"
    type_suffix = "too-large"


class RateLimited(AppError):
    status = 429
    title = "Too many requests"
    type_suffix = "rate-limited"

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_suffix: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = {
        "type": f"https://fitsync.dev/problems/{type_suffix or phrase.lower().replace(' ', '-')}",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _loc(loc: tuple[Any, ...] | list[Any]) -> list[str | int]:
    return [p if isinstance(p, int | str) else str(p) for p in loc]


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem(
        exc.status,
        exc.detail,
        title=exc.title,
        type_suffix=exc.type_suffix,
        headers=exc.headers,
        **exc.extra,
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": _loc(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    where = ".".join(str(p) for p in first["loc"])
    return problem(
        422,
        f"{where}: {first['msg']}" if where else str(first["msg"]),
        title="Invalid input",
        type_suffix="invalid",
        errors=errors,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "An unexpected error occurred; it has been logged.")


HtmlErrors = Callable[[Request, int, str, str], Awaitable[Response]]


def install(app: FastAPI, *, html: HtmlErrors | None = None) -> None:
    """Render errors as problem+json; outside ``/api`` as HTML pages when ``html`` is given."""

    def choose(json_handler: Handler) -> Handler:
        async def handler(request: Request, exc: Exception) -> Response:
            response = await json_handler(request, exc)
            if html is None or request.url.path.startswith(("/api/", "/healthz", "/readyz")):
                return response
            body = json.loads(bytes(response.body))
            page = await html(request, response.status_code, body["title"], body["detail"])
            for name in ("retry-after", "www-authenticate"):
                if name in response.headers:
                    page.headers[name] = response.headers[name]
            return page

        return handler

    app.add_exception_handler(AppError, choose(_app_error))
    app.add_exception_handler(RequestValidationError, choose(_validation_error))
    app.add_exception_handler(StarletteHTTPException, choose(_http_error))
    app.add_exception_handler(Exception, choose(_unhandled))
