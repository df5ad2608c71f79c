"""Replaying TPC-H order history through Portico, as the dealers would.

:func:`run_replay` drives a running gateway and worker from outside, in
phases that each wait for the one before to settle:

1. every dealer in the slice gets its own API key, and registers a webhook
   endpoint at the demo's receiver through the API;
2. each dealer's system places its TPC-H orders (``POST /v1/orders`` with an
   Idempotency-Key, the real line items and the TPC-H order date);
3. the worker submits them to the ERP, which confirms them;
4. the back office takes them on in Tryton (ship, invoice with TPC-H's
   discount and tax, or pick) and Portico's sync brings each status back;
5. returned lines become return claims through the API, the worker files
   them as Tryton complaints, the back office approves them and Portico's
   sync resolves the claims;
6. the paperwork is indexed, and every event has reached Kafka and every
   webhook its receiver.

Nothing is faked on the way: the dealers speak HTTP to the gateway, the
back office speaks JSON-RPC to Tryton, and progress is read from Portico's
own tables. Every unexpected answer is counted as an error.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.tryton.rpc import TrytonRpc
from domain.accounts.scopes import DEALER_SCOPES
from gateway.accounts import service
from gateway.db.tables import (
    ClaimEventRow,
    DocumentRow,
    OrderEventRow,
    OutboxRow,
    WebhookDeliveryRow,
)
from gateway.demo.backoffice import approve_complaints, work_orders
from gateway.demo.plan import ErpOutcome, PlannedOrder, ReplayPlan
from gateway.demo.receiver import DealerReceiver
from gateway.logs import get_logger
from gateway.peers.tryton_ops import TaxBook

__all__ = ["Dealer", "Progress", "ReplayResult", "run_replay"]

log = get_logger(__name__)

#: Requests in flight from all dealers together.
_IN_FLIGHT = 8
_POLL_SECONDS = 0.5
_REACHED_ACCEPTED = ("accepted", "in_fulfilment", "shipped", "delivered", "invoiced")


class Progress(Protocol):
    """Where the replay reports how far each phase is."""

    def phase(self, description: str, total: int) -> Callable[[int], None]:
        """Start a phase of ``total`` steps; the callable sets steps done."""
        ...


@dataclass(frozen=True, slots=True)
class Dealer:
    custkey: int
    account_id: uuid.UUID
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(slots=True)
class ReplayResult:
    """What the replay did and saw; ``errors`` must stay empty."""

    dealers: dict[int, Dealer] = field(default_factory=dict)
    order_ids: dict[int, uuid.UUID] = field(default_factory=dict)
    #: The TPC-H customer key of each placed order, by order key.
    owners: dict[int, int] = field(default_factory=dict)
    claim_ids: dict[int, uuid.UUID] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def latency(self, quantile: int) -> float:
        """The ``quantile``-th percentile of API latency, in milliseconds."""
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else 0.0
        return statistics.quantiles(self.latencies_ms, n=100)[quantile - 1]


class ReplayError(RuntimeError):
    """A phase could not finish; the message says which and why."""


@dataclass(slots=True)
class _Driver:
    api: httpx.AsyncClient
    rpc: TrytonRpc
    sessions: async_sessionmaker[AsyncSession]
    progress: Progress
    result: ReplayResult
    phase_timeout: float
    gate: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(_IN_FLIGHT)
    )

    async def call(
        self, method: str, url: str, dealer: Dealer, expect: int, **kwargs: Any
    ) -> dict[str, Any] | None:
        """One API call by ``dealer``; its latency is kept, a surprise is an error."""
        async with self.gate:
            started = time.perf_counter()
            try:
                response = await self.api.request(
                    method,
                    url,
                    headers={**dealer.headers, **kwargs.pop("headers", {})},
                    **kwargs,
                )
            except httpx.HTTPError as error:
                self.result.errors.append(f"{method} {url}: {type(error).__name__}")
                return None
            finally:
                self.result.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != expect:
            self.result.errors.append(
                f"{method} {url}: {response.status_code} {response.text[:200]}"
            )
            return None
        body: dict[str, Any] = response.json()
        return body

    def ticker(self, description: str, total: int) -> Callable[[], None]:
        """A phase of ``total`` steps that moves on by one at each call."""
        update = self.progress.phase(description, total)
        done = itertools.count(1)
        return lambda: update(next(done))

    async def wait(
        self, description: str, total: int, count: Callable[[], Awaitable[int]]
    ) -> None:
        """Poll ``count`` until it reaches ``total``, showing progress."""
        update = self.progress.phase(description, total)
        deadline = time.monotonic() + self.phase_timeout
        while True:
            done = await count()
            update(min(done, total))
            if done >= total:
                return
            if time.monotonic() > deadline:
                raise ReplayError(
                    f"{description}: {done} of {total} after {self.phase_timeout:.0f} s"
                )
            await asyncio.sleep(_POLL_SECONDS)

    async def scalar(self, statement: Any) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(statement) or 0)


async def run_replay(
    plan: ReplayPlan,
    accounts: dict[int, uuid.UUID],
    *,
    api: httpx.AsyncClient,
    rpc: TrytonRpc,
    sessions: async_sessionmaker[AsyncSession],
    receiver: DealerReceiver,
    receiver_url: str,
    progress: Progress,
    kafka: bool,
    phase_timeout: float = 600.0,
) -> ReplayResult:
    """Replay ``plan`` through the gateway behind ``api``; see the module doc.

    ``accounts`` maps TPC-H customer keys to their linked Portico accounts.
    With ``kafka`` the replay also waits until every event was published.

    Raises:
        ReplayError: a phase did not finish within ``phase_timeout`` seconds,
            or an earlier phase's errors left nothing to go on with.
    """
    driver = _Driver(api, rpc, sessions, progress, ReplayResult(), phase_timeout)
    phases: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        (
            "dealers",
            lambda: _open_dealers(driver, plan, accounts, receiver, receiver_url),
        ),
        ("orders", lambda: _place_orders(driver, plan)),
        ("erp", lambda: _follow_erp(driver, plan)),
        ("claims", lambda: _file_and_decide_returns(driver, plan)),
        ("delivery", lambda: _settle_delivery(driver, plan, kafka)),
    ]
    for name, phase in phases:
        started = time.perf_counter()
        try:
            await phase()
        except ReplayError as error:
            seen = "; ".join(driver.result.errors[:5]) or "no error answers"
            raise ReplayError(f"{error} ({seen})") from None
        driver.result.seconds[name] = time.perf_counter() - started
        log.info("demo.phase_done", phase=name, seconds=driver.result.seconds[name])
    return driver.result


async def _open_dealers(
    driver: _Driver,
    plan: ReplayPlan,
    accounts: dict[int, uuid.UUID],
    receiver: DealerReceiver,
    receiver_url: str,
) -> None:
    custkeys = plan.custkeys
    update = driver.progress.phase("Dealers: keys and webhook endpoints", len(custkeys))

    async def open_one(custkey: int) -> None:
        created = await service.create_key(
            driver.sessions, accounts[custkey], DEALER_SCOPES, name="demo dealer"
        )
        dealer = Dealer(custkey, accounts[custkey], created.token)
        endpoint = await driver.call(
            "POST",
            "/v1/webhooks/endpoints",
            dealer,
            201,
            json={
                "url": f"{receiver_url}/hooks/{custkey}",
                "description": f"TPC-H customer {custkey}'s ERP",
            },
        )
        if endpoint is not None:
            receiver.register(str(custkey), str(endpoint["secret"]))
        driver.result.dealers[custkey] = dealer
        update(len(driver.result.dealers))

    await asyncio.gather(*(open_one(custkey) for custkey in custkeys))


async def _place_orders(driver: _Driver, plan: ReplayPlan) -> None:
    update = driver.progress.phase("Dealers place TPC-H orders", len(plan.orders))

    async def place(order: PlannedOrder) -> None:
        placed = await driver.call(
            "POST",
            "/v1/orders",
            driver.result.dealers[order.custkey],
            201,
            json=order.order_body(),
            headers={"Idempotency-Key": order.idempotency_key},
        )
        if placed is not None:
            driver.result.order_ids[order.orderkey] = uuid.UUID(placed["id"])
            driver.result.owners[order.orderkey] = order.custkey
        update(len(driver.result.order_ids))

    await asyncio.gather(*(place(order) for order in plan.orders))
    if not driver.result.order_ids:
        raise ReplayError("no order was placed; see the errors")


async def _follow_erp(driver: _Driver, plan: ReplayPlan) -> None:
    placed = [
        (order, driver.result.order_ids[order.orderkey])
        for order in plan.orders
        if order.orderkey in driver.result.order_ids
    ]
    ids = [order_id for _, order_id in placed]
    await driver.wait(
        "ERP confirms the orders",
        len(ids),
        lambda: _orders_reached(driver, ids, _REACHED_ACCEPTED),
    )
    tick = driver.ticker("Back office ships and invoices", len(placed))
    await work_orders(driver.rpc, placed, TaxBook(), tick)
    for outcome in (ErpOutcome.PICKED, ErpOutcome.INVOICED):
        wanted = [order_id for order, order_id in placed if order.outcome is outcome]
        if wanted:
            await driver.wait(
                f"Portico learns: {outcome.value}",
                len(wanted),
                functools.partial(_orders_reached, driver, wanted, (outcome.value,)),
            )
    rejected = await _orders_reached(driver, ids, ("rejected",))
    if rejected:
        driver.result.errors.append(f"{rejected} orders were rejected by the ERP")


async def _file_and_decide_returns(driver: _Driver, plan: ReplayPlan) -> None:
    returns = [
        order for order in plan.returns if order.orderkey in driver.result.order_ids
    ]
    if not returns:
        return
    update = driver.progress.phase("Dealers file return claims", len(returns))

    async def file(order: PlannedOrder) -> None:
        filed = await driver.call(
            "POST",
            "/v1/claims",
            driver.result.dealers[order.custkey],
            201,
            json=order.return_claim_body(str(driver.result.order_ids[order.orderkey])),
            headers={"Idempotency-Key": f"tpch-return-{order.orderkey}"},
        )
        if filed is not None:
            driver.result.claim_ids[order.orderkey] = uuid.UUID(filed["id"])
        update(len(driver.result.claim_ids))

    await asyncio.gather(*(file(order) for order in returns))
    claim_ids = list(driver.result.claim_ids.values())
    await driver.wait(
        "Claims reach the ERP",
        len(claim_ids),
        lambda: _claims_reached(driver, claim_ids, "in_review"),
    )
    tick = driver.ticker("Back office approves returns", len(claim_ids))
    await approve_complaints(driver.rpc, claim_ids, tick)
    await driver.wait(
        "Portico learns: claims resolved",
        len(claim_ids),
        lambda: _claims_reached(driver, claim_ids, "resolved"),
    )


async def _settle_delivery(driver: _Driver, plan: ReplayPlan, kafka: bool) -> None:
    invoiced = [
        driver.result.order_ids[order.orderkey]
        for order in plan.orders
        if order.outcome is ErpOutcome.INVOICED
        and order.orderkey in driver.result.order_ids
    ]
    await driver.wait(
        "Invoices indexed",
        len(invoiced),
        lambda: driver.scalar(
            select(func.count(func.distinct(DocumentRow.order_id))).where(
                DocumentRow.order_id.in_(invoiced), DocumentRow.type == "invoice"
            )
        ),
    )
    if kafka:
        await _drain(
            driver,
            "Events published to Kafka",
            select(func.count()).select_from(OutboxRow),
            select(func.count()).where(OutboxRow.published_at.is_not(None)),
        )
    await _drain(
        driver,
        "Webhooks delivered",
        select(func.count()).select_from(WebhookDeliveryRow),
        select(func.count()).where(WebhookDeliveryRow.status != "pending"),
    )


async def _drain(driver: _Driver, description: str, everything: Any, done: Any) -> None:
    """Wait until ``done`` catches up with ``everything`` and both hold still.

    New rows keep arriving while the last events fan out, so the target is
    read again until two polls agree.
    """
    while True:
        total = await driver.scalar(everything)
        await driver.wait(description, total, lambda: driver.scalar(done))
        if await driver.scalar(everything) == total:
            return


async def _orders_reached(
    driver: _Driver, ids: Sequence[uuid.UUID], statuses: Sequence[str]
) -> int:
    """How many of ``ids`` have had one of ``statuses`` on their timeline."""
    return await driver.scalar(
        select(func.count(func.distinct(OrderEventRow.order_id))).where(
            OrderEventRow.order_id.in_(ids), OrderEventRow.status.in_(statuses)
        )
    )


async def _claims_reached(
    driver: _Driver, ids: Sequence[uuid.UUID], status: str
) -> int:
    return await driver.scalar(
        select(func.count(func.distinct(ClaimEventRow.claim_id))).where(
            ClaimEventRow.claim_id.in_(ids), ClaimEventRow.status == status
        )
    )
