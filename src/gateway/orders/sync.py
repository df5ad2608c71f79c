"""Syncing order status back from the ERP.

The poller asks the ERP for orders changed since a cursor kept in
PostgreSQL, maps each ERP state onto Portico's status machine, appends the
step to the order's timeline, records the net prices and tax rates the ERP
invoiced, and writes its event, then stores the new
cursor, all in one transaction: a crash repeats a poll, it never skips one.
A transaction-level advisory lock per connector lets only one worker replica
poll a given ERP at a time.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.backends import BackendError
from domain.orders.erp import ErpOrderChange, ErpOrderState
from domain.orders.model import ChangeSource
from domain.orders.status import OrderStatus, can_move
from domain.ports import ErpPort
from gateway.db.sync_cursors import ChangeStream
from gateway.logs import get_logger
from gateway.orders.repository import OrderRepository
from gateway.orders.service import announce_status
from gateway.references import EntityKind, ReferenceRepository

log = get_logger(__name__)

STREAM = "orders"

ERP_TO_PORTICO = {
    ErpOrderState.ACCEPTED: OrderStatus.ACCEPTED,
    ErpOrderState.IN_FULFILMENT: OrderStatus.IN_FULFILMENT,
    ErpOrderState.SHIPPED: OrderStatus.SHIPPED,
    ErpOrderState.DELIVERED: OrderStatus.DELIVERED,
    ErpOrderState.INVOICED: OrderStatus.INVOICED,
    ErpOrderState.CANCELLED: OrderStatus.CANCELLED,
}


class OrderSync:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        erp: ErpPort,
        erp_name: str,
        batch: int,
    ) -> None:
        self._sessions = sessions
        self._erp = erp
        self._erp_name = erp_name
        self._batch = batch
        self._stream = ChangeStream(erp_name, STREAM)

    async def run_once(self) -> int | None:
        """Apply one page of changes. None when another replica holds the lock."""
        async with self._stream.poll(self._sessions) as poll:
            if poll is None:
                return None
            try:
                page = await self._erp.order_changes(poll.cursor, self._batch)
            except BackendError as error:
                # Expected while the ERP is down: the next poll tries again.
                log.warning(
                    "order.sync.erp_unavailable",
                    erp=self._erp_name,
                    reason=error.reason,
                )
                return 0
            for change in page.changes:
                await self._apply(poll.session, change)
            poll.advance(page.cursor)
        return len(page.changes)

    async def _apply(self, session: AsyncSession, change: ErpOrderChange) -> None:
        if change.order_id is None:
            return  # an order the ERP has from elsewhere
        repository = OrderRepository(session)
        order = await repository.get_any(change.order_id, for_update=True)
        if order is None:
            return
        await ReferenceRepository(session).link(
            EntityKind.ORDER, order.id, self._erp_name, change.external_id
        )
        # Before the status moves, so the event carries the invoiced totals. A
        # correction after that reaches partners as the invoice's own
        # document.updated event.
        await repository.set_line_terms(order, change.line_terms)
        target = ERP_TO_PORTICO[change.state]
        if order.status is target:
            return
        if not can_move(order.status, target):
            log.warning(
                "order.sync.ignored",
                order_id=str(order.id),
                status=order.status.value,
                erp_state=change.state.value,
            )
            return
        await repository.set_status(
            order,
            target,
            ChangeSource.ERP,
            change.detail or f"{self._erp_name} order {change.number}",
            erp_number=change.number,
            next_attempt_at=None,
        )
        await announce_status(session, repository, order)
