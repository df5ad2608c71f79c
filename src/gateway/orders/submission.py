"""Submitting orders to the ERP: the write-through half of an order's life.

Placing an order only stores it; this worker takes it to the ERP. Replicas
share the work by leasing due orders with ``FOR UPDATE SKIP LOCKED``. A call
that fails transiently is retried later with exponential backoff and jitter,
so with the ERP down orders wait and go out when it is back. Before every
submission the worker asks the ERP for an order carrying Portico's id as its
reference: if an earlier attempt timed out after the ERP took it, that order
is adopted instead of a second one being created.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.backends import BackendError, BackendRejectedError
from domain.errors import InvalidInputError
from domain.orders.erp import ErpOrderLine, ErpOrderReceipt, ErpOrderRequest
from domain.orders.model import ChangeSource, Order, RequestedLine, needs_approval
from domain.orders.pricing import price_lines
from domain.orders.status import OrderStatus
from domain.ports import ErpPort
from gateway.db.engine import transaction
from gateway.db.tables import AccountRow
from gateway.logs import get_logger
from gateway.orders.repository import OrderRepository
from gateway.orders.service import announce_status
from gateway.references import EntityKind, ReferenceRepository
from gateway.settings import WorkerSettings

log = get_logger(__name__)


class OrderSubmitter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        erp: ErpPort,
        erp_name: str,
        settings: WorkerSettings,
    ) -> None:
        self._sessions = sessions
        self._erp = erp
        self._erp_name = erp_name
        self._settings = settings

    async def run_once(self) -> int:
        """Submit the orders that are due; return how many were handled."""
        lease = timedelta(seconds=self._settings.submit_lease_seconds)
        async with transaction(self._sessions) as session:
            claimed = await OrderRepository(session).claim_due_submissions(
                self._settings.submit_batch, lease
            )
        for order_id in claimed:
            await self._submit(order_id)
        return len(claimed)

    async def _submit(self, order_id: uuid.UUID) -> None:
        """Take one order to the ERP, holding its row lock throughout.

        The lock serialises the submission with a dealer's cancel: a cancel
        waits until the ERP has answered, then sees the order as it really is
        (accepted, with the ERP's number) instead of racing the submission.
        The ERP calls are bounded by the connector's deadline.
        """
        async with transaction(self._sessions) as session:
            repository = OrderRepository(session)
            order = await repository.get_any(order_id, for_update=True)
            if order is None or order.status is not OrderStatus.SUBMITTED:
                return
            customer_ref = await ReferenceRepository(session).external_id(
                EntityKind.ACCOUNT, order.account_id, self._erp_name
            )
            if customer_ref is None:
                await self._reject(
                    session, order, "the account is not linked to an ERP customer"
                )
                return
            try:
                if not order.priced and not await self._price(
                    session, order, customer_ref
                ):
                    return
                receipt = await self._erp.find_order(order.id)
                if receipt is None:
                    receipt = await self._erp.submit_order(
                        _erp_request(order, customer_ref)
                    )
            except BackendRejectedError as error:
                await self._reject(session, order, error.detail)
            except BackendError as error:
                await self._retry_later(session, order.id, error)
            else:
                await self._accept(session, order, receipt)

    async def _price(
        self, session: AsyncSession, order: Order, customer_ref: str
    ) -> bool:
        """Price an order taken while the ERP was down. True if it may go on."""
        requested = [RequestedLine(line.sku, line.quantity) for line in order.lines]
        try:
            lines = await price_lines(self._erp, customer_ref, requested)
        except InvalidInputError as error:
            await self._reject(session, order, error.detail)
            return False
        repository = OrderRepository(session)
        await repository.set_prices(order, lines)
        account = await session.get(AccountRow, order.account_id)
        total = order.total
        assert total is not None
        if account is not None and needs_approval(total, account.approval_threshold):
            await repository.set_status(
                order,
                OrderStatus.PENDING_APPROVAL,
                ChangeSource.SYSTEM,
                "priced by the ERP above the account's approval threshold",
                next_attempt_at=None,
            )
            await announce_status(session, repository, order)
            return False
        return True

    async def _accept(
        self, session: AsyncSession, order: Order, receipt: ErpOrderReceipt
    ) -> None:
        repository = OrderRepository(session)
        await ReferenceRepository(session).link(
            EntityKind.ORDER, order.id, self._erp_name, receipt.external_id
        )
        await repository.set_status(
            order,
            OrderStatus.ACCEPTED,
            ChangeSource.ERP,
            f"{self._erp_name} order {receipt.number}",
            erp_number=receipt.number,
            next_attempt_at=None,
        )
        await announce_status(session, repository, order)
        log.info("order.submit.accepted", order_id=str(order.id), number=receipt.number)

    async def _reject(self, session: AsyncSession, order: Order, reason: str) -> None:
        repository = OrderRepository(session)
        await repository.set_status(
            order,
            OrderStatus.REJECTED,
            ChangeSource.ERP,
            reason,
            rejection_reason=reason,
            next_attempt_at=None,
        )
        await announce_status(session, repository, order)
        log.info("order.submit.rejected", order_id=str(order.id), reason=reason)

    async def _retry_later(
        self, session: AsyncSession, order_id: uuid.UUID, error: BackendError
    ) -> None:
        attempts, delay = await OrderRepository(session).schedule_retry(
            order_id, self.backoff
        )
        log.warning(
            "order.submit.retry_scheduled",
            order_id=str(order_id),
            reason=error.reason,
            attempt=attempts,
            retry_in_seconds=round(delay.total_seconds(), 1),
        )

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with full jitter, capped."""
        ceiling = min(
            self._settings.retry_max_seconds,
            self._settings.retry_base_seconds * 2 ** max(attempts - 1, 0),
        )
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311


def _erp_request(order: Order, customer_ref: str) -> ErpOrderRequest:
    lines = []
    for line in order.lines:
        assert line.unit_price is not None, "orders are priced before submission"
        lines.append(ErpOrderLine(line.sku, Decimal(line.quantity), line.unit_price))
    return ErpOrderRequest(
        order_id=order.id,
        customer_ref=customer_ref,
        lines=tuple(lines),
        currency=order.currency,
        requested_date=order.requested_date,
        customer_reference=order.customer_reference,
    )
