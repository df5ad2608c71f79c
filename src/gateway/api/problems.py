"""RFC 9457 problem details: the one shape of every error Portico returns.

Each problem has a stable ``code`` that a partner's code can branch on; the
``title`` is fixed per code and the ``detail`` explains this occurrence. The
table below is the single place where an error class becomes a status code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette.responses import Response

from domain.backends import (
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
)
from domain.errors import ConflictError, DomainError, InvalidInputError, NotFoundError
from gateway.api.context import current_correlation_id

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    code: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        return f"urn:portico:problem:{self.code}"


BAD_REQUEST = ProblemType("bad_request", 400, "The request is malformed")
UNAUTHORIZED = ProblemType("unauthorized", 401, "A valid API key is required")
FORBIDDEN = ProblemType("forbidden", 403, "The API key lacks a required scope")
NOT_FOUND = ProblemType("not_found", 404, "The resource was not found")
METHOD_NOT_ALLOWED = ProblemType(
    "method_not_allowed", 405, "The method is not allowed on this resource"
)
NOT_ACCEPTABLE = ProblemType("not_acceptable", 406, "No acceptable representation")
CONFLICT = ProblemType("conflict", 409, "The resource's state does not allow this")
PAYLOAD_TOO_LARGE = ProblemType(
    "payload_too_large", 413, "The request body is larger than allowed"
)
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported_media_type", 415, "The request body's media type is not supported"
)
VALIDATION_FAILED = ProblemType(
    "validation_failed", 422, "The request did not pass validation"
)
INVALID_INPUT = ProblemType("invalid_input", 422, "The request breaks a business rule")
HEADERS_TOO_LARGE = ProblemType(
    "headers_too_large", 431, "The request headers are larger than allowed"
)
INTERNAL_ERROR = ProblemType("internal_error", 500, "An unexpected error occurred")
BAD_GATEWAY = ProblemType(
    "backend_error", 502, "A back-office system gave an unusable answer"
)
BACKEND_UNAVAILABLE = ProblemType(
    "backend_unavailable", 503, "A back-office system is unavailable"
)
GATEWAY_TIMEOUT = ProblemType(
    "backend_timeout", 504, "A back-office system did not answer in time"
)
SERVICE_UNAVAILABLE = ProblemType(
    "service_unavailable", 503, "The service cannot answer right now"
)

_BY_STATUS = {
    problem.status: problem
    for problem in (
        BAD_REQUEST,
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        NOT_ACCEPTABLE,
        CONFLICT,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        VALIDATION_FAILED,
        HEADERS_TOO_LARGE,
        INTERNAL_ERROR,
        BAD_GATEWAY,
        SERVICE_UNAVAILABLE,
        GATEWAY_TIMEOUT,
    )
}

#: Domain errors, most specific first. The domain knows nothing of HTTP.
DOMAIN_PROBLEMS: tuple[tuple[type[DomainError], ProblemType], ...] = (
    (NotFoundError, NOT_FOUND),
    (InvalidInputError, INVALID_INPUT),
    (ConflictError, CONFLICT),
)


def problem_for_backend_error(error: BackendError) -> ProblemType:
    if isinstance(error, BackendTimeoutError):
        return GATEWAY_TIMEOUT
    if isinstance(error, BackendUnavailableError):
        return BACKEND_UNAVAILABLE
    return BAD_GATEWAY


def problem_for_status(status: int) -> ProblemType:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return INTERNAL_ERROR
    return ProblemType("http_error", status, "The request failed")


def problem_for_domain_error(error: DomainError) -> ProblemType:
    for error_class, problem in DOMAIN_PROBLEMS:
        if isinstance(error, error_class):
            return problem
    return INVALID_INPUT


class FieldError(BaseModel):
    """One thing wrong with the input, and where."""

    location: str = Field(examples=["body.lines[0].quantity"])
    message: str = Field(examples=["Input should be greater than 0"])


class Problem(BaseModel):
    """An RFC 9457 problem detail, as every error response carries it."""

    type: str = Field(examples=["urn:portico:problem:not_found"])
    title: str
    status: int
    detail: str
    instance: str = Field(description="The path of the request that failed.")
    code: str = Field(description="Stable, machine-readable error code.")
    correlation_id: str = Field(
        description="Quote it to the supplier's operators; it is in every log line."
    )
    errors: list[FieldError] | None = Field(
        default=None, description="For validation problems: each field at fault."
    )


def problem_body(
    problem: ProblemType,
    detail: str,
    instance: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "detail": detail,
        "instance": instance,
        "code": problem.code,
        "correlation_id": current_correlation_id(),
    }
    if errors is not None:
        body["errors"] = [error.model_dump() for error in errors]
    if extra:
        body.update(extra)
    return body


def problem_response(
    problem: ProblemType,
    detail: str,
    instance: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body = problem_body(problem, detail, instance, errors, extra)
    return Response(
        content=orjson.dumps(body),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the problems a route returns."""
    return {
        status: {
            "description": problem_for_status(status).title,
            "content": {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for status in statuses
    }
