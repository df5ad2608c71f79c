"""The body limit reads the declared Content-Length before any of the body."""

from __future__ import annotations

import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.api.middleware import BodyLimitMiddleware

LIMIT = 1 << 20


async def never_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the application must not see this request")


async def answer_to(content_length: bytes) -> tuple[int, dict[str, object]]:
    """What the middleware answers to a POST declaring ``content_length``."""
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/orders",
        "headers": [(b"content-length", content_length)],
    }
    await BodyLimitMiddleware(never_called, max_body_bytes=LIMIT)(scope, receive, send)
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], orjson.loads(body)


@pytest.mark.parametrize(
    "declared", [b"abc", b"-1", b"1e3", b" 12", b"\xd9\xa3", b"", b"0x10"]
)
async def test_a_content_length_that_is_not_a_number_is_a_400(declared: bytes) -> None:
    status, problem = await answer_to(declared)

    assert status == 400
    assert problem["code"] == "bad_request"
    assert "Content-Length" in str(problem["detail"])


@pytest.mark.parametrize(
    "declared", [str(LIMIT + 1).encode(), b"9" * 5000, b"0" * 4000 + b"99999999"]
)
async def test_c19_a_content_length_over_the_limit_is_a_413_however_long(
    declared: bytes,
) -> None:
    status, problem = await answer_to(declared)

    assert status == 413
    assert problem["code"] == "payload_too_large"


async def test_a_long_run_of_zeros_is_read_as_the_number_it_is() -> None:
    passed: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(scope)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        raise AssertionError("the middleware must not answer")

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/orders",
        "headers": [(b"content-length", b"0" * 5000)],
    }
    await BodyLimitMiddleware(app, max_body_bytes=LIMIT)(scope, receive, send)

    assert passed == [scope]
