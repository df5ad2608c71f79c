"""Order use cases: placing, approving, cancelling and reordering.

Reads and the ERP calls they need happen before a transaction opens, so no
database connection waits on a slow ERP; each write is one transaction that
also records the order's timeline step and its outbox event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.model import Account
from domain.backends import BackendRejectedError, BackendUnavailableError
from domain.errors import ConflictError, NotFoundError
from domain.money import format_amount
from domain.orders.model import (
    ChangeSource,
    Order,
    OrderLine,
    RequestedLine,
    needs_approval,
    resolve_order_date,
    validate_lines,
)
from domain.orders.pricing import price_lines
from domain.orders.status import OrderStatus, require_move
from domain.ports import ErpPort
from gateway.db.tables import AccountRow
from gateway.events.outbox import record_event
from gateway.logs import get_logger
from gateway.orders.repository import OrderRepository
from gateway.orders.schemas import order_read
from gateway.references import EntityKind, ReferenceRepository

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    lines: list[RequestedLine]
    requested_date: date | None
    customer_reference: str | None
    order_date: date | None = None


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    """A priced (or knowingly unpriced) order and why it has its status."""

    order: Order
    note: str | None


@dataclass(frozen=True, slots=True)
class Buyer:
    """An account as the ERP and the approval rule see it."""

    account: Account
    customer_ref: str
    approval_threshold: Decimal | None


class OrderService:
    def __init__(self, erp: ErpPort, erp_name: str) -> None:
        self._erp = erp
        self._erp_name = erp_name

    async def buyer(self, session: AsyncSession, account: Account) -> Buyer:
        customer_ref = await ReferenceRepository(session).external_id(
            EntityKind.ACCOUNT, account.id, self._erp_name
        )
        if customer_ref is None:
            raise ConflictError(
                "this account is not linked to a customer in the ERP yet; "
                "ask the supplier to link it before ordering"
            )
        threshold = await session.scalar(
            select(AccountRow.approval_threshold).where(AccountRow.id == account.id)
        )
        return Buyer(account, customer_ref, threshold)

    async def prepare(self, buyer: Buyer, request: OrderRequest) -> PreparedOrder:
        """Validate and price a new order; decide whether it needs approval.

        With the ERP unavailable the order is still taken, unpriced: the
        worker prices and submits it when the ERP is back.
        """
        lines = validate_lines(request.lines)
        now = datetime.now(UTC)
        order_date = resolve_order_date(
            request.order_date, now.astimezone(buyer.account.zone).date()
        )
        order_id = uuid.uuid4()
        try:
            priced: list[OrderLine] = await price_lines(
                self._erp, buyer.customer_ref, lines
            )
            note = None
        except BackendUnavailableError as error:
            log.warning(
                "order.pricing.deferred", order_id=str(order_id), reason=error.reason
            )
            priced = [
                OrderLine(
                    line_no=index + 1,
                    sku=line.sku,
                    quantity=line.quantity,
                    unit_price=None,
                )
                for index, line in enumerate(lines)
            ]
            note = "the ERP is unavailable; it will price and take the order when back"
        order = Order(
            id=order_id,
            account_id=buyer.account.id,
            status=OrderStatus.SUBMITTED,
            currency=priced[0].unit_price.currency
            if priced[0].unit_price is not None
            else buyer.account.currency,
            lines=priced,
            requested_date=request.requested_date,
            customer_reference=request.customer_reference,
            created_at=now,
            order_date=order_date,
        )
        total = order.total
        threshold = buyer.approval_threshold
        if (
            total is not None
            and threshold is not None
            and needs_approval(total, threshold)
        ):
            order.status = OrderStatus.PENDING_APPROVAL
            note = (
                "the total exceeds the account's approval threshold of "
                f"{format_amount(threshold, order.currency)} "
                f"{order.currency}"
            )
        return PreparedOrder(order, note)

    async def create(
        self,
        session: AsyncSession,
        prepared: PreparedOrder,
        *,
        reordered_from: uuid.UUID | None = None,
    ) -> Order:
        order, note = prepared.order, prepared.note
        repository = OrderRepository(session)
        await repository.add(
            order, erp_system=self._erp_name, reordered_from=reordered_from
        )
        await repository.record_initial(order, ChangeSource.API, note)
        stored = await repository.get(order.account_id, order.id)
        assert stored is not None
        await record_event(
            session,
            event_type="order.created",
            account_id=order.account_id,
            subject=str(order.id),
            data=order_read(stored).model_dump(mode="json"),
        )
        log.info("order.placed", order_id=str(order.id), status=order.status.value)
        return stored

    async def approve(
        self, session: AsyncSession, account: Account, order_id: uuid.UUID
    ) -> Order:
        repository = OrderRepository(session)
        order = await _locked(repository, account, order_id)
        require_move(order.status, OrderStatus.SUBMITTED, "approved")
        await repository.set_status(
            order, OrderStatus.SUBMITTED, ChangeSource.API, "approved",
            next_attempt_at=datetime.now(UTC),
        )  # fmt: skip
        return await announce_status(session, repository, order)

    async def cancel(
        self, session: AsyncSession, account: Account, order_id: uuid.UUID
    ) -> Order:
        """Cancel the order, in the ERP too once the ERP has it."""
        repository = OrderRepository(session)
        order = await _locked(repository, account, order_id)
        require_move(order.status, OrderStatus.CANCELLED, "cancelled")
        if order.erp_number is not None:
            external_id = await ReferenceRepository(session).external_id(
                EntityKind.ORDER, order.id, self._erp_name
            )
            if external_id is not None:
                try:
                    await self._erp.cancel_order(external_id)
                except BackendRejectedError as error:
                    raise ConflictError(
                        f"the ERP refused to cancel order {order.erp_number}: "
                        f"{error.detail}"
                    ) from None
        await repository.set_status(order, OrderStatus.CANCELLED, ChangeSource.API)
        return await announce_status(session, repository, order)


async def _locked(
    repository: OrderRepository, account: Account, order_id: uuid.UUID
) -> Order:
    order = await repository.get(account.id, order_id, for_update=True)
    if order is None:
        raise NotFoundError("order", order_id)
    return order


async def announce_status(
    session: AsyncSession, repository: OrderRepository, order: Order
) -> Order:
    """Write the order's status change to the outbox and return it fresh."""
    fresh = await repository.get(order.account_id, order.id)
    assert fresh is not None
    await record_event(
        session,
        event_type="order.status_changed",
        account_id=order.account_id,
        subject=str(order.id),
        data=order_read(fresh).model_dump(mode="json"),
    )
    log.info("order.status_changed", order_id=str(order.id), status=fresh.status.value)
    return fresh
