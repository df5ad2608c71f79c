"""Every error is an RFC 9457 problem; bad input never becomes a 500 (C04, C19)."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.factories import Caller

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code"}


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    assert body["correlation_id"] == response.headers["x-request-id"]


def valid_line() -> dict[str, object]:
    return {
        "quantity": 3,
        "price": {"amount": "10.50", "currency": "EUR"},
        "requested_at": "2025-03-30T01:30:00+03:00",
    }


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere")

    assert_problem(response, 404, "not_found")
    assert response.json()["instance"] == "/v1/nowhere"


async def test_wrong_method_is_a_405_problem_with_allow(
    client: httpx.AsyncClient,
) -> None:
    response = await client.delete("/healthz")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


async def test_validation_errors_name_each_field(
    probe_client: httpx.AsyncClient,
) -> None:
    line = valid_line() | {"quantity": 0, "price": {"amount": "ten", "currency": "E"}}

    response = await probe_client.post("/probe/echo", json=line)

    assert_problem(response, 422, "validation_failed")
    locations = {error["location"] for error in response.json()["errors"]}
    assert locations == {"body.quantity", "body.price.amount", "body.price.currency"}
    assert "ten" not in response.text


async def test_c04_an_aware_time_is_kept_as_the_same_instant(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post("/probe/echo", json=valid_line())

    assert response.status_code == 200
    echoed = response.json()["requested_at"]
    assert echoed == "2025-03-30T01:30:00+03:00"


async def test_c04_a_time_without_offset_is_a_422_asking_for_one(
    probe_client: httpx.AsyncClient,
) -> None:
    line = valid_line() | {"requested_at": "2025-03-30T01:30:00"}

    response = await probe_client.post("/probe/echo", json=line)

    assert_problem(response, 422, "validation_failed")
    [error] = response.json()["errors"]
    assert error["location"] == "body.requested_at"
    assert "timezone" in error["message"].lower()


HOSTILE_BODIES = {
    "quantity as huge exponent": b'{"quantity": "1E+1000000"}',
    "price NaN": b'{"quantity": 1, "price": {"amount": "NaN", "currency": "EUR"}}',
    "bare NaN": b'{"quantity": NaN}',
    "5,000-digit number": b'{"quantity": ' + b"9" * 5000 + b"}",
    "5,000-digit amount": b'{"price": {"amount": "' + b"9" * 5000 + b'"}}',
    "exponent number": b'{"quantity": 1e400}',
    "10,000 levels deep": b'{"quantity": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "truncated": b'{"quantity": 1',
    "not utf-8": b'{"quantity": "\xff\xfe"}',
    "a bare string": b'"hello"',
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
async def test_c19_hostile_json_is_a_quick_422(
    probe_client: httpx.AsyncClient, body: bytes
) -> None:
    started = time.perf_counter()

    response = await probe_client.post(
        "/probe/echo", content=body, headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 422, "validation_failed")
    # Not a speed target: a guard that nothing parses or loops for long.
    assert time.perf_counter() - started < 1.0


async def test_c19_a_50_mb_body_is_a_413_before_it_is_read(
    probe_client: httpx.AsyncClient,
) -> None:
    sent = 0

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b" " * (1 << 20)
        for _ in range(50):
            sent += len(chunk)
            yield chunk

    response = await probe_client.post(
        "/probe/echo",
        content=fifty_megabytes(),
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 413, "payload_too_large")
    assert sent < 50 << 20


async def test_a_declared_oversized_body_is_refused_unread(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post(
        "/probe/echo",
        content=b"{" + b" " * (2 << 20) + b"}",
        headers={"Content-Type": "application/json"},
    )

    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_a_body_that_is_not_json_is_a_415(
    probe_client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = await probe_client.post(
        "/probe/echo", content=b'{"quantity": 1}', headers=headers
    )

    assert_problem(response, 415, "unsupported_media_type")


async def test_c01_money_is_a_string_from_models_and_from_plain_dicts(
    probe_client: httpx.AsyncClient,
) -> None:
    from_model = await probe_client.get("/probe/model-money")
    from_dict = await probe_client.get("/probe/plain-money")

    amounts = [item["amount"] for item in from_model.json()]
    assert amounts == ["1234567890123456.78", "0.10"]
    assert from_dict.json()["big"]["amount"] == "1234567890123456.78"
    assert from_dict.json()["small"]["amount"] == "0.10"
    assert b'"amount":"0.10"' in from_model.content


async def test_an_unexpected_error_is_a_500_problem_without_internals(
    probe_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await probe_client.get("/probe/boom", headers={"X-Request-ID": "r-1"})

    assert_problem(response, 500, "internal_error")
    assert response.json()["correlation_id"] == "r-1"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    logged = [
        record
        for record in caplog.records
        if isinstance(record.msg, dict)
        and record.msg.get("event") == "http.unhandled_error"
    ]
    assert len(logged) == 1
    assert isinstance(logged[0].msg, dict)
    assert logged[0].msg["correlation_id"] == "r-1"
    assert logged[0].exc_info is not None


async def test_a_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    kept = await client.get("/healthz", headers={"X-Request-ID": "dealer-42.a"})
    replaced = await client.get("/healthz", headers={"X-Request-ID": 'bad id\t"x'})

    assert kept.headers["x-request-id"] == "dealer-42.a"
    assert replaced.headers["x-request-id"] != 'bad id\t"x'
    assert len(replaced.headers["x-request-id"]) == 32


async def test_health_and_readiness(client: httpx.AsyncClient, caller: Caller) -> None:
    health = await client.get("/healthz")
    ready = await client.get("/readyz")

    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/orders?reference=a%00b",
        "/v1/orders?created_to=9999-12-31",
        "/v1/orders?created_from=0001-01-01",
        "/v1/events?after=9223372036854775808",
        "/v1/events?after=1000000000000000000000000000000",
        "/v1/events/stream?after=9223372036854775808",
    ],
)
async def test_edge_values_in_queries_are_422_not_500(
    client: httpx.AsyncClient, caller: Caller, path: str
) -> None:
    response = await client.get(path, headers=caller.headers)

    assert_problem(response, 422, response.json()["code"])


@pytest.mark.parametrize("last_event_id", ["\u00b2", "1\u00b9", "-1", "abc"])
async def test_a_foreign_last_event_id_is_a_422(
    client: httpx.AsyncClient, caller: Caller, last_event_id: str
) -> None:
    response = await client.get(
        "/v1/events/stream",
        headers=[
            *(
                (name.encode(), value.encode())
                for name, value in caller.headers.items()
            ),
            (b"Last-Event-ID", last_event_id.encode("latin-1")),
        ],
    )

    assert_problem(response, 422, "invalid_input")


async def test_a_nul_inside_a_json_string_is_a_422(
    probe_client: httpx.AsyncClient,
) -> None:
    body = (
        b'{"quantity": 1, "price": {"amount": "1.00", "currency": "EUR"}, '
        b'"requested_at": "a\\u0000b"}'
    )

    response = await probe_client.post(
        "/probe/echo", content=body, headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 422, "validation_failed")
    assert "NUL" in response.text
