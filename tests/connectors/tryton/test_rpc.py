"""The Tryton JSON-RPC client, against the real Tryton peer.

A few answers the real server cannot be made to give on demand (a body that
is not JSON, a mismatched id, a 503, a dropped connection) are produced with
httpx's MockTransport; everything else talks to the seeded Tryton 8.2.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from connectors.tryton.rpc import (
    TrytonConnectionError,
    TrytonError,
    TrytonLoginError,
    TrytonProtocolError,
    TrytonRpc,
    TrytonServerError,
    TrytonSessionExpired,
    TrytonUserError,
)
from gateway.peers.tpch import load_tpch
from gateway.peers.tryton import TrytonPeer
from tests.peers.fixtures import peer_cache_dir, tryton_http, tryton_peer, tryton_rpc

__all__ = ["tryton_http", "tryton_peer", "tryton_rpc"]

SECRET = "s3cret-Passw0rd"


class Recorder:
    """Remembers each request's RPC method and Authorization header."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    async def __call__(self, request: httpx.Request) -> None:
        method = json.loads(request.content)["method"]
        self.calls.append((method, request.headers.get("Authorization")))

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]


def admin_rpc(peer: TrytonPeer, http: httpx.AsyncClient) -> TrytonRpc:
    return TrytonRpc(http, peer.database, peer.admin_login, peer.admin_password)


# -- against the real server ---------------------------------------------


@pytest.mark.tryton
async def test_login_returns_the_admin_id_and_sends_a_session_header(
    tryton_peer: TrytonPeer,
) -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(
        base_url=tryton_peer.url, event_hooks={"request": [recorder]}
    ) as http:
        rpc = admin_rpc(tryton_peer, http)

        user_id = await rpc.login()
        await rpc.model("res.user", "read", [user_id], ["login"])
        await rpc.logout()

    assert user_id == rpc.user_id == 1
    assert recorder.methods() == [
        "common.db.login",
        "model.res.user.get_preferences",
        "model.res.user.read",
        "common.db.logout",
    ]
    assert recorder.calls[0][1] is None
    scheme, _, token = (recorder.calls[2][1] or "").partition(" ")
    login, uid, session = base64.b64decode(token).decode().split(":")
    assert (scheme, login, uid) == ("Session", "admin", "1")
    assert len(session) >= 32


@pytest.mark.tryton
async def test_context_carries_the_seeded_company(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    context = await tryton_rpc.context()

    assert context["company"] == tryton_peer.manifest.company_id
    assert context["language"] == "en"


@pytest.mark.tryton
async def test_search_read_finds_a_seeded_customer_by_code(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    seeded = tryton_peer.manifest.customers[1]

    rows = await tryton_rpc.model(
        "party.party",
        "search_read",
        [["code", "=", "TPCH-C000001"]],
        0,
        None,
        None,
        ["name", "code", "addresses"],
    )

    assert rows == [
        {
            "id": seeded.party_id,
            "name": "Customer#000000001",
            "code": "TPCH-C000001",
            "addresses": [seeded.address_id],
        }
    ]


@pytest.mark.tryton
async def test_decimals_come_back_as_decimals(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    part = tryton_peer.manifest.parts[1]

    (row,) = await tryton_rpc.model(
        "product.product", "read", [part.product_id], ["list_price_used", "code"]
    )

    assert row["code"] == "P000001"
    assert row["list_price_used"] == Decimal("901.00")
    assert isinstance(row["list_price_used"], Decimal)


@pytest.mark.tryton
async def test_a_missing_required_field_is_a_user_error(tryton_rpc: TrytonRpc) -> None:
    with pytest.raises(TrytonUserError) as raised:
        await tryton_rpc.model("party.address", "create", [{"city": "Nowhere"}])

    error = raised.value
    assert error.transient is False
    assert error.method == "model.party.address.create"
    assert '"Party"' in error.message
    assert "required" in error.message


@pytest.mark.tryton
async def test_a_duplicate_party_code_is_a_user_error(tryton_rpc: TrytonRpc) -> None:
    with pytest.raises(TrytonUserError, match="unique"):
        await tryton_rpc.model(
            "party.party", "create", [{"name": "Clone", "code": "TPCH-C000001"}]
        )


@pytest.mark.tryton
async def test_a_method_tryton_does_not_expose_is_a_permanent_server_error(
    tryton_rpc: TrytonRpc,
) -> None:
    with pytest.raises(TrytonServerError) as raised:
        await tryton_rpc.model("party.party", "no_such_method", [])

    assert raised.value.status_code == 403
    assert raised.value.transient is False


@pytest.mark.tryton
async def test_a_wrong_password_is_a_login_error_without_the_password(
    tryton_peer: TrytonPeer, tryton_http: httpx.AsyncClient
) -> None:
    # Another login than admin: failed attempts slow down that login's
    # next logins.
    rpc = TrytonRpc(tryton_http, tryton_peer.database, "nobody", SECRET)

    with pytest.raises(TrytonLoginError) as raised:
        await rpc.login()

    assert SECRET not in str(raised.value)
    assert SECRET not in repr(rpc)
    assert rpc.logged_in is False


@pytest.mark.tryton
async def test_an_expired_session_is_renewed_once_transparently(
    tryton_peer: TrytonPeer,
) -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(
        base_url=tryton_peer.url, event_hooks={"request": [recorder]}
    ) as http:
        rpc = admin_rpc(tryton_peer, http)
        await rpc.login()
        await rpc.context()
        old_header = recorder.calls[-1][1]
        assert old_header is not None
        # End the session on the server behind the client's back.
        ended = await http.post(
            f"/{tryton_peer.database}/rpc/",
            json={"id": 0, "method": "common.db.logout", "params": []},
            headers={"Authorization": old_header},
        )
        assert ended.status_code == 200
        recorder.calls.clear()

        count = await rpc.model("product.product", "search_count", [])

        assert count == len(tryton_peer.manifest.parts)
        assert recorder.methods() == [
            "model.product.product.search_count",
            "common.db.login",
            "model.product.product.search_count",
        ]
        assert recorder.calls[0][1] == old_header
        assert recorder.calls[2][1] not in (None, old_header)
        await rpc.logout()


@pytest.mark.tryton
async def test_tryton_holds_every_tpch_part_and_customer(
    tryton_peer: TrytonPeer, tryton_rpc: TrytonRpc
) -> None:
    tpch = load_tpch(peer_cache_dir(), tryton_peer.scale, include_orders=False)

    products = await tryton_rpc.model(
        "product.product", "search_count", [["code", "like", "P%"]]
    )
    parties = await tryton_rpc.model(
        "party.party", "search_count", [["code", "like", "TPCH-C%"]]
    )

    assert products == len(tpch.parts) == 2000
    assert parties == len(tpch.customers) == 1500


# -- answers the real server does not give on demand ----------------------


def scripted(
    *answers: Callable[[dict[str, object]], httpx.Response],
) -> httpx.AsyncClient:
    """A client whose server answers each request with the next function."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0)(json.loads(request.content))

    return httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://tryton.test"
    )


def login_ok(body: dict[str, object]) -> httpx.Response:
    assert body["method"] == "common.db.login"
    assert body["params"] == ["admin", {"password": SECRET}, "en"]
    return httpx.Response(200, json={"id": body["id"], "result": [1, "tok3n", None]})


def result(value: object) -> Callable[[dict[str, object]], httpx.Response]:
    return lambda body: httpx.Response(200, json={"id": body["id"], "result": value})


def error(value: object) -> Callable[[dict[str, object]], httpx.Response]:
    return lambda body: httpx.Response(200, json={"id": body["id"], "error": value})


def status(code: int) -> Callable[[dict[str, object]], httpx.Response]:
    return lambda body: httpx.Response(code)


async def test_requests_carry_exactly_id_method_and_params() -> None:
    seen: list[dict[str, object]] = []

    def echo(body: dict[str, object]) -> httpx.Response:
        seen.append(body)
        return httpx.Response(
            200,
            json={"id": body["id"], "result": {"__class__": "Decimal", "decimal": "2"}},
        )

    async with scripted(login_ok, echo) as http:
        rpc = TrytonRpc(http, "db name", "admin", SECRET)
        value = await rpc.call("model.x.y", [Decimal("1.5"), {"ctx": 1}])

    assert value == Decimal(2)
    assert set(seen[0]) == {"id", "method", "params"}
    assert seen[0]["params"] == [
        {"__class__": "Decimal", "decimal": "1.5"},
        {"ctx": 1},
    ]


async def test_the_database_name_is_escaped_in_the_path() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        body = json.loads(request.content)
        return httpx.Response(200, json={"id": body["id"], "result": [1, "t", None]})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://tryton.test"
    ) as http:
        await TrytonRpc(http, "my db/x", "admin", SECRET).login()

    assert paths == ["/my%20db%2Fx/rpc/"]


@pytest.mark.parametrize(
    ("envelope", "kind", "text"),
    [
        (
            ["UserWarning", ["stock.big_qty", "Quantity is large.", "Check it."]],
            TrytonUserError,
            "Quantity is large. - Check it.",
        ),
        (
            ["ConcurrencyException", "Records were modified in the meanwhile"],
            TrytonError,
            "Records were modified in the meanwhile",
        ),
        (["KeyError: 'x'", ""], TrytonServerError, "Tryton server error: KeyError"),
        ("nonsense", TrytonProtocolError, "malformed Tryton error envelope"),
    ],
)
async def test_error_envelopes_map_to_typed_errors(
    envelope: object, kind: type[TrytonError], text: str
) -> None:
    async with scripted(login_ok, error(envelope)) as http:
        rpc = TrytonRpc(http, "db", "admin", SECRET)
        with pytest.raises(kind, match=text) as raised:
            await rpc.call("model.x.y", [])

    assert raised.value.method == "model.x.y"


async def test_a_concurrency_error_is_transient() -> None:
    async with scripted(
        login_ok, error(["ConcurrencyException", "Records were modified"])
    ) as http:
        with pytest.raises(TrytonError) as raised:
            await TrytonRpc(http, "db", "admin", SECRET).call("model.x.y", [])

    assert raised.value.transient is True


async def test_a_session_refused_twice_raises_session_expired() -> None:
    async with scripted(login_ok, status(401), login_ok, status(401)) as http:
        rpc = TrytonRpc(http, "db", "admin", SECRET)
        with pytest.raises(TrytonSessionExpired) as raised:
            await rpc.call("model.x.y", [])

    assert "tok3n" not in str(raised.value)
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    ("answer", "kind", "transient"),
    [
        (status(503), TrytonServerError, True),
        (status(429), TrytonServerError, True),
        (status(500), TrytonServerError, False),
        (lambda body: httpx.Response(200, text="<html>"), TrytonProtocolError, False),
        (lambda body: httpx.Response(200, json=[1]), TrytonProtocolError, False),
        (
            lambda body: httpx.Response(200, json={"id": -1, "result": 1}),
            TrytonProtocolError,
            False,
        ),
        (
            lambda body: httpx.Response(200, json={"id": body["id"]}),
            TrytonProtocolError,
            False,
        ),
    ],
)
async def test_unexpected_answers_raise_typed_errors(
    answer: Callable[[dict[str, object]], httpx.Response],
    kind: type[TrytonError],
    transient: bool,
) -> None:
    async with scripted(login_ok, answer) as http:
        rpc = TrytonRpc(http, "db", "admin", SECRET)
        with pytest.raises(kind) as raised:
            await rpc.call("model.x.y", [])

    assert raised.value.transient is transient


async def test_a_dropped_connection_is_a_transient_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(refuse), base_url="http://tryton.test"
    ) as http:
        rpc = TrytonRpc(http, "db", "admin", SECRET)
        with pytest.raises(TrytonConnectionError) as raised:
            await rpc.login()

    assert raised.value.transient is True
    assert SECRET not in str(raised.value)


async def test_login_and_logout_are_not_plain_calls() -> None:
    async with scripted() as http:
        rpc = TrytonRpc(http, "db", "admin", SECRET)
        with pytest.raises(ValueError, match="login"):
            await rpc.call("common.db.login", ["admin", {}])
