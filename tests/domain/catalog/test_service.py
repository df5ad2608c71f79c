"""The fan-out: parallel, deadline-bound, honest about missing parts (C21)."""

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.backends import BackendUnavailableError, CircuitOpenError
from domain.catalog.model import Fetched, Part
from domain.catalog.service import AvailabilityRequest, CatalogService
from domain.errors import InvalidInputError, NotFoundError
from tests.support.backends import Behaviour, InMemoryErp


class DictCache:
    def __init__(self) -> None:
        self.values: dict[tuple[Part, str], Fetched[Any]] = {}

    def get(self, part: Part, key: str) -> Fetched[Any] | None:
        return self.values.get((part, key))

    def put(self, part: Part, key: str, value: Fetched[Any]) -> None:
        self.values[(part, key)] = value


@pytest.fixture
def erp() -> InMemoryErp:
    erp = InMemoryErp(customer_discounts={"C1": Decimal("0.10")})
    erp.add("P1", "100.00", stock=7)
    erp.add("P2", "20.00", stock=0)
    return erp


@pytest.fixture
def cache() -> DictCache:
    return DictCache()


def service(
    erp: InMemoryErp, cache: DictCache, deadline: float = 0.5
) -> CatalogService:
    return CatalogService(
        erp=erp,
        content=erp,
        erp_name="erp",
        content_name="cms",
        cache=cache,
        clock=lambda: datetime.now(UTC),
        read_deadline_seconds=deadline,
    )


async def test_a_whole_answer_has_content_price_and_stock(
    erp: InMemoryErp, cache: DictCache
) -> None:
    view = await service(erp, cache).product("C1", "P1")

    assert view.complete
    assert view.content is not None
    assert view.content.value.name == "Part P1"
    assert view.price is not None
    assert view.price.value.unit_price.amount == Decimal("90.0000")
    assert view.stock is not None
    assert view.stock.value.total == 7


async def test_c21_a_timed_out_stock_backend_leaves_a_named_gap(
    erp: InMemoryErp, cache: DictCache
) -> None:
    erp.behaviour["stock_levels"] = Behaviour(delay=5)
    started = time.perf_counter()

    view = await service(erp, cache, deadline=0.2).product("C1", "P1")

    assert time.perf_counter() - started < 1.0
    assert view.stock is None
    assert view.price is not None
    [missing] = view.missing
    assert (missing.part, missing.reason, missing.system) == (
        Part.STOCK,
        "timeout",
        "erp",
    )


async def test_c21_a_partial_answer_is_not_cached_as_complete(
    erp: InMemoryErp, cache: DictCache
) -> None:
    erp.behaviour["stock_levels"] = Behaviour(error=CircuitOpenError("erp", "s", "x"))
    catalog = service(erp, cache)
    first = await catalog.product("C1", "P1")
    erp.behaviour.clear()
    erp.calls.clear()

    second = await catalog.product("C1", "P1")

    assert not first.complete
    assert second.complete
    assert erp.calls == ["stock_levels"]
    assert second.price is not None
    assert second.price.from_cache
    assert second.stock is not None
    assert not second.stock.from_cache


async def test_parts_are_fetched_in_parallel(
    erp: InMemoryErp, cache: DictCache
) -> None:
    for operation in ("product_content", "quote_prices", "stock_levels"):
        erp.behaviour[operation] = Behaviour(delay=0.2)
    started = time.perf_counter()

    view = await service(erp, cache, deadline=2).product("C1", "P1")

    assert view.complete
    assert time.perf_counter() - started < 0.5


async def test_an_unknown_sku_is_not_found_when_content_answered(
    erp: InMemoryErp, cache: DictCache
) -> None:
    with pytest.raises(NotFoundError):
        await service(erp, cache).product("C1", "NOPE")


async def test_when_content_is_down_an_unknown_sku_is_a_partial_answer(
    erp: InMemoryErp, cache: DictCache
) -> None:
    erp.behaviour["product_content"] = Behaviour(
        error=BackendUnavailableError("cms", "content", "down")
    )

    view = await service(erp, cache).product("C1", "P1")

    assert [m.part for m in view.missing] == [Part.CONTENT]
    assert view.price is not None


async def test_availability_answers_each_sku_and_marks_unknown_ones(
    erp: InMemoryErp, cache: DictCache
) -> None:
    requests = [
        AvailabilityRequest("P1", Decimal(2)),
        AvailabilityRequest("P2", Decimal(5)),
        AvailabilityRequest("ZZ", Decimal(1)),
    ]

    result = await service(erp, cache).availability(None, requests)

    by_sku = {item.sku: item for item in result}
    assert by_sku["P1"].price is not None
    assert by_sku["P1"].stock is not None
    assert by_sku["P1"].stock.value.total == 7
    assert by_sku["P2"].stock is not None
    assert by_sku["P2"].stock.value.total == 0
    assert by_sku["ZZ"].known is False
    assert by_sku["ZZ"].price is None


async def test_availability_with_stock_down_still_prices(
    erp: InMemoryErp, cache: DictCache
) -> None:
    erp.behaviour["stock_levels"] = Behaviour(delay=5)

    [item] = await service(erp, cache, deadline=0.1).availability(
        None, [AvailabilityRequest("P1", Decimal(1))]
    )

    assert item.price is not None
    assert [m.part for m in item.missing] == [Part.STOCK]


async def test_availability_states_its_limit(
    erp: InMemoryErp, cache: DictCache
) -> None:
    requests = [AvailabilityRequest(f"P{i}", Decimal(1)) for i in range(101)]

    with pytest.raises(InvalidInputError, match="at most 100"):
        await service(erp, cache).availability(None, requests)


async def test_search_pages_by_sku(erp: InMemoryErp, cache: DictCache) -> None:
    catalog = service(erp, cache)

    first = await catalog.search(text=None, category=None, after_sku=None, limit=1)
    second = await catalog.search(
        text=None, category=None, after_sku=first.next_after, limit=1
    )

    assert [p.sku for p in first.items] == ["P1"]
    assert [p.sku for p in second.items] == ["P2"]
    assert second.next_after is None
