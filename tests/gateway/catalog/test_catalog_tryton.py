"""The catalog against a real Tryton seeded from TPC-H."""

import time
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api.app import create_app
from gateway.peers.tpch import TpchData
from gateway.peers.tryton import TrytonPeer
from gateway.peers.tryton_seed import VOLUME_QUANTITY, part_code
from gateway.settings import Settings
from tests.peers.fixtures import TEST_SCALE, peer_cache_dir
from tests.support.tryton_gateway import tpch_caller, tryton_settings

pytestmark = pytest.mark.tryton


async def test_a_product_shows_trytons_price_and_stock_to_a_tpch_dealer(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer, custkey=7)
    part = tryton_peer.manifest.parts[42]

    response = await tryton_client.get(
        f"/v1/catalog/products/{part.code}", headers=caller.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["complete"] is True
    assert body["missing"] == []
    assert body["content"]["sku"] == part_code(42)
    assert Decimal(body["price"]["unit_price"]["amount"]) == part.list_price
    assert body["price"]["unit_price"]["currency"] == "USD"
    assert body["price"]["basis"] == "customer_price_list"
    assert Decimal(body["stock"]["total"]) == part.quantity
    assert body["stock"]["freshness"]["cached"] is False


async def test_the_customer_price_list_applies_at_volume(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)
    part = tryton_peer.manifest.parts[3]

    response = await tryton_client.get(
        f"/v1/catalog/products/{part.code}?quantity={int(VOLUME_QUANTITY)}",
        headers=caller.headers,
    )

    amount = Decimal(response.json()["price"]["unit_price"]["amount"])
    assert amount == (part.list_price * Decimal("0.95")).quantize(amount)


async def test_search_pages_through_tryton_products_with_a_cursor(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)

    first = await tryton_client.get(
        "/v1/catalog/products?limit=3", headers=caller.headers
    )
    cursor = first.json()["next_cursor"]
    second = await tryton_client.get(
        "/v1/catalog/products", params={"limit": 3, "cursor": cursor},
        headers=caller.headers,
    )  # fmt: skip

    skus = [item["sku"] for item in first.json()["items"] + second.json()["items"]]
    assert skus == [part_code(key) for key in range(1, 7)]


async def test_search_by_text(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)
    part = tpch.parts[10]
    word = part.name.split()[0]

    response = await tryton_client.get(
        "/v1/catalog/products", params={"q": word, "limit": 100},
        headers=caller.headers,
    )  # fmt: skip

    names = [item["name"] for item in response.json()["items"]]
    assert names
    assert all(word.lower() in name.lower() for name in names)


async def test_a_forged_cursor_is_a_422(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)

    response = await tryton_client.get(
        "/v1/catalog/products?cursor=eyJsIjoiY2F0YWxvZyJ9", headers=caller.headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "cursor"


async def test_an_unknown_sku_is_a_404_problem(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)

    response = await tryton_client.get(
        "/v1/catalog/products/NO-SUCH-PART", headers=caller.headers
    )

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("sku", ["%00", "-P1", "P%201", "%E2%80%AEP1"])
async def test_a_malformed_sku_is_a_422_naming_it(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
    sku: str,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)

    response = await tryton_client.get(
        f"/v1/catalog/products/{sku}", headers=caller.headers
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == "path.sku"


async def test_availability_for_many_skus_in_one_call(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)
    # Parts no other test orders: a confirmed sale lowers the stock shown.
    parts = tryton_peer.manifest.parts
    items = [
        {"sku": parts[1701].code, "quantity": 1},
        {"sku": parts[1702].code, "quantity": int(VOLUME_QUANTITY)},
        {"sku": "NO-SUCH-PART", "quantity": 1},
    ]

    response = await tryton_client.post(
        "/v1/catalog/availability", json={"items": items}, headers=caller.headers
    )

    assert response.status_code == 200, response.text
    by_sku = {item["sku"]: item for item in response.json()["items"]}
    assert Decimal(by_sku[parts[1701].code]["stock"]["total"]) == (parts[1701].quantity)
    volume = Decimal(by_sku[parts[1702].code]["price"]["unit_price"]["amount"])
    assert volume < parts[1702].list_price
    assert by_sku["NO-SUCH-PART"]["known"] is False


async def test_too_many_skus_is_a_422_stating_the_limit(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)
    items = [{"sku": f"P{i:06d}", "quantity": 1} for i in range(101)]

    response = await tryton_client.post(
        "/v1/catalog/availability", json={"items": items}, headers=caller.headers
    )

    assert response.status_code == 422
    assert "100" in response.json()["errors"][0]["message"]


async def test_with_tryton_stopped_the_answer_is_partial_within_its_deadline(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
) -> None:
    peer = TrytonPeer(peer_cache_dir(), scale=TEST_SCALE)
    peer.start()
    try:
        caller = await tpch_caller(sessions, tpch, peer)
        app = create_app(
            tryton_settings(settings, peer, price_ttl_seconds=0, stock_ttl_seconds=0)
        )
        sku = peer.manifest.parts[5].code
        async with app.router.lifespan_context(app), client_for(app) as client:
            warm = await client.get(
                f"/v1/catalog/products/{sku}", headers=caller.headers
            )
            peer.stop()
            started = time.perf_counter()
            partial = await client.get(
                f"/v1/catalog/products/{sku}", headers=caller.headers
            )
            elapsed = time.perf_counter() - started
            for _ in range(3):
                await client.get(f"/v1/catalog/products/{sku}", headers=caller.headers)
            tripped = await client.get(
                f"/v1/catalog/products/{sku}", headers=caller.headers
            )
    finally:
        peer.stop()

    assert warm.json()["complete"] is True
    body = partial.json()
    assert partial.status_code == 200
    assert body["complete"] is False
    assert body["content"]["freshness"]["cached"] is True
    assert {m["part"] for m in body["missing"]} == {"price", "stock"}
    assert {m["system"] for m in body["missing"]} == {"erp"}
    assert elapsed < 2.5 + 1.0
    reasons = {m["reason"] for m in tripped.json()["missing"]}
    assert reasons == {"circuit_open"}


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://portico.test"
    )


async def test_credentials_never_reach_problems_or_logs(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)
    wrong = "Wr0ng-pa55word-do-not-log"
    bound = tryton_settings(settings, tryton_peer)
    options = {**bound.connectors["erp"].options, "password": wrong}
    bound.connectors["erp"] = bound.connectors["erp"].model_copy(
        update={"options": options}
    )
    app = create_app(bound)
    sku = tryton_peer.manifest.parts[9].code

    async with app.router.lifespan_context(app), client_for(app) as client:
        detail = await client.get(f"/v1/catalog/products/{sku}", headers=caller.headers)
        listing = await client.get("/v1/catalog/products", headers=caller.headers)

    assert detail.status_code == 200
    reasons = {m["reason"] for m in detail.json()["missing"]}
    assert "rejected" in reasons
    assert reasons <= {"rejected", "timeout"}
    # Tryton slows down repeated failed logins, so the listing may also time out.
    assert listing.status_code in {502, 504}
    assert listing.headers["content-type"] == "application/problem+json"
    for text in (detail.text, listing.text, caplog.text):
        assert wrong not in text
        assert tryton_peer.admin_password not in text


async def test_search_by_category(
    tryton_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    tryton_peer: TrytonPeer,
) -> None:
    caller = await tpch_caller(sessions, tpch, tryton_peer)

    found = await tryton_client.get(
        "/v1/catalog/products", params={"category": "TPC-H Parts", "limit": 2},
        headers=caller.headers,
    )  # fmt: skip
    none = await tryton_client.get(
        "/v1/catalog/products", params={"category": "No such category"},
        headers=caller.headers,
    )  # fmt: skip

    assert [item["category"] for item in found.json()["items"]] == ["TPC-H Parts"] * 2
    assert none.json()["items"] == []


async def test_the_crm_port_finds_a_tpch_customer_by_code(
    tryton_app: FastAPI, tryton_peer: TrytonPeer
) -> None:
    crm = tryton_app.state.backends.crm
    seeded = tryton_peer.manifest.customers[3]

    customer = await crm.find_customer(seeded.code)
    missing = await crm.find_customer("NO-SUCH-CODE")

    assert customer is not None
    assert customer.ref == str(seeded.party_id)
    assert missing is None
