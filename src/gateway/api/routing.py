"""Portico's route class: strict media types and a hardened JSON parser.

FastAPI parses JSON bodies with the standard library, which turns a 5,000-digit
number or 10,000 nested brackets into a ValueError or RecursionError, and from
there into a 500 or 400. orjson rejects both quickly with a JSONDecodeError,
which FastAPI reports as a 422; it also refuses NaN and Infinity, which no JSON
document may carry.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

import orjson
from fastapi import params
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import InvalidInputError
from gateway.api.errors import ApiError
from gateway.api.problems import UNSUPPORTED_MEDIA_TYPE


class _OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            # PostgreSQL text cannot hold NUL; refuse it here rather than fail
            # deep in a query. Raw NULs are already invalid JSON.
            if b"\\u0000" in body.lower():
                raise orjson.JSONDecodeError(
                    "NUL characters (\\u0000) are not allowed",
                    body.decode(errors="replace"),
                    0,
                )
            self._json = orjson.loads(body)
        return self._json


def is_json_media_type(content_type: str) -> bool:
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _has_nul(query: bytes) -> bool:
    return b"%00" in query or b"\x00" in query


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() != "0"
    return "transfer-encoding" in request.headers


class PorticoRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        body_field = self.body_field
        expects_json = body_field is not None and not isinstance(
            body_field.field_info, params.Form
        )

        async def route_handler(request: Request) -> Response:
            if _has_nul(request.scope.get("query_string", b"")):
                raise InvalidInputError(
                    "query parameters must not contain NUL characters (%00)",
                    field="query",
                )
            if expects_json and _has_body(request):
                content_type = request.headers.get("content-type", "")
                if not is_json_media_type(content_type):
                    raise ApiError(
                        UNSUPPORTED_MEDIA_TYPE,
                        "send the body as JSON with 'Content-Type: application/json'",
                    )
            return await handler(_OrjsonRequest(request.scope, request.receive))

        return route_handler
