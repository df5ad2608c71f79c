"""Exception handlers: every error leaves as a problem, never as HTML or text."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from domain.backends import BackendError
from domain.errors import DomainError, InvalidInputError
from gateway.api.errors import ApiError
from gateway.api.problems import (
    VALIDATION_FAILED,
    FieldError,
    problem_for_backend_error,
    problem_for_domain_error,
    problem_for_status,
    problem_response,
)

_STATUS_DETAILS = {
    404: "no resource lives at this path",
    405: "this path does not accept the method",
    413: "the request body is larger than the gateway accepts",
}


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "request"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error")
        return f"the body is not valid JSON: {reason}" if reason else message
    return message


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Never echo the input back: it may be huge, or someone else's secret.
    errors = [
        FieldError(location=_location(tuple(item["loc"])), message=_message(item))
        for item in exc.errors()
    ]
    summary = "; ".join(f"{error.location}: {error.message}" for error in errors[:3])
    return problem_response(VALIDATION_FAILED, summary, request.url.path, errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    problem = problem_for_status(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else problem.title
    if detail in {"Not Found", "Method Not Allowed", "Content Too Large"}:
        detail = _STATUS_DETAILS.get(exc.status_code, detail)
    return problem_response(
        problem, detail, request.url.path, headers=dict(exc.headers or {})
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return problem_response(
        exc.problem, exc.detail, request.url.path, headers=exc.headers
    )


def domain_problem(error: DomainError, instance: str) -> Response:
    """The problem response for a domain error, also for routes that store it."""
    errors = None
    if isinstance(error, InvalidInputError) and error.field is not None:
        errors = [FieldError(location=error.field, message=error.detail)]
    return problem_response(
        problem_for_domain_error(error), error.detail, instance, errors=errors
    )


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return domain_problem(exc, request.url.path)


async def _backend_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BackendError)
    problem = problem_for_backend_error(exc)
    headers = {"Retry-After": "5"} if exc.retryable else None
    return problem_response(
        problem,
        f"{exc.system} could not answer ({exc.reason}): {exc.detail}",
        request.url.path,
        headers=headers,
    )


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BackendError, _backend_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DomainError, _domain_error)
