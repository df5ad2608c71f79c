"""Reading and writing orders. Flushes; never commits.

Every read takes the account id: an order of another account is simply not
found, so an id never reveals that it exists elsewhere.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from domain.money import Money
from domain.orders.erp import ErpLineTerms
from domain.orders.model import ChangeSource, Order, OrderLine, TimelineEntry
from domain.orders.status import OrderStatus
from gateway.db.tables import OrderEventRow, OrderLineRow, OrderRow

#: Lifecycle order of statuses, for sorting by status.
STATUS_RANK: dict[str, int] = {
    status.value: rank for rank, status in enumerate(OrderStatus)
}


@dataclass(frozen=True, slots=True)
class OrderFilter:
    statuses: frozenset[OrderStatus] = frozenset()
    created_from: datetime | None = None
    created_before: datetime | None = None
    reference_text: str | None = None


@dataclass(frozen=True, slots=True)
class SortKey:
    """A sortable field and direction; ties are broken by id, the same way."""

    field: str
    descending: bool

    def expression(self) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
        if self.field == "total":
            return func.coalesce(OrderRow.total, Decimal(-1))
        if self.field == "status":
            return case(STATUS_RANK, value=OrderRow.status)
        return OrderRow.created_at

    def position(self, row: OrderRow) -> list[Any]:
        """The cursor position of ``row``: its sort value and id, as JSON."""
        if self.field == "total":
            value: Any = str(row.total if row.total is not None else Decimal(-1))
        elif self.field == "status":
            value = STATUS_RANK[row.status]
        else:
            value = row.created_at.isoformat()
        return [value, str(row.id)]

    def parse(self, position: list[Any]) -> tuple[Any, uuid.UUID]:
        value, order_id = position
        if self.field == "total":
            return Decimal(str(value)), uuid.UUID(str(order_id))
        if self.field == "status":
            return int(value), uuid.UUID(str(order_id))
        return datetime.fromisoformat(str(value)), uuid.UUID(str(order_id))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, order: Order, *, erp_system: str | None, reordered_from: uuid.UUID | None
    ) -> None:
        total = order.total
        self._session.add(
            OrderRow(
                id=order.id,
                account_id=order.account_id,
                status=order.status.value,
                currency=order.currency,
                total=None if total is None else total.amount,
                requested_date=order.requested_date,
                order_date=order.order_date,
                customer_reference=order.customer_reference,
                erp_system=erp_system,
                reordered_from=reordered_from,
                next_attempt_at=func.now()
                if order.status is OrderStatus.SUBMITTED
                else None,
            )
        )
        await self._session.flush()
        self._session.add_all(
            OrderLineRow(
                order_id=order.id,
                line_no=line.line_no,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=None if line.unit_price is None else line.unit_price.amount,
                net_unit_price=None
                if line.net_unit_price is None
                else line.net_unit_price.amount,
                tax_rate=line.tax_rate,
            )
            for line in order.lines
        )
        await self._session.flush()

    async def get(
        self, account_id: uuid.UUID, order_id: uuid.UUID, *, for_update: bool = False
    ) -> Order | None:
        statement = select(OrderRow).where(
            OrderRow.id == order_id, OrderRow.account_id == account_id
        )
        if for_update:
            statement = statement.with_for_update()
        row = await self._session.scalar(statement)
        return None if row is None else (await self._load([row]))[0]

    async def get_any(
        self, order_id: uuid.UUID, *, for_update: bool = False
    ) -> Order | None:
        """An order by id alone: for workers acting on the ERP's behalf."""
        statement = select(OrderRow).where(OrderRow.id == order_id)
        if for_update:
            statement = statement.with_for_update()
        row = await self._session.scalar(statement)
        return None if row is None else (await self._load([row]))[0]

    async def page(
        self,
        account_id: uuid.UUID,
        filters: OrderFilter,
        sort: SortKey,
        after: tuple[Any, uuid.UUID] | None,
        limit: int,
    ) -> tuple[list[Order], list[Any] | None]:
        """Up to ``limit`` orders after ``after``, and the position to go on from."""
        key = sort.expression()
        statement = self._filtered(account_id, filters)
        if after is not None:
            boundary = tuple_(key, OrderRow.id)
            position = tuple_(*after)
            statement = statement.where(
                boundary < position if sort.descending else boundary > position
            )
        ordering = (
            (key.desc(), OrderRow.id.desc()) if sort.descending else (key, OrderRow.id)
        )
        rows = list(
            await self._session.scalars(statement.order_by(*ordering).limit(limit + 1))
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_position = sort.position(rows[-1]) if more and rows else None
        return await self._load(rows), next_position

    def _filtered(
        self, account_id: uuid.UUID, filters: OrderFilter
    ) -> Select[OrderRow]:
        statement = select(OrderRow).where(OrderRow.account_id == account_id)
        if filters.statuses:
            statement = statement.where(
                OrderRow.status.in_(sorted(status.value for status in filters.statuses))
            )
        if filters.created_from is not None:
            statement = statement.where(OrderRow.created_at >= filters.created_from)
        if filters.created_before is not None:
            statement = statement.where(OrderRow.created_at < filters.created_before)
        if filters.reference_text:
            pattern = f"%{_escape_like(filters.reference_text)}%"
            statement = statement.where(OrderRow.customer_reference.ilike(pattern))
        return statement

    async def set_status(
        self,
        order: Order,
        status: OrderStatus,
        source: ChangeSource,
        note: str | None = None,
        **changes: Any,
    ) -> None:
        """Move the order, append the step to its timeline, and update ``order``."""
        values: dict[str, Any] = {
            "status": status.value,
            "updated_at": func.now(),
            **changes,
        }
        await self._session.execute(
            update(OrderRow).where(OrderRow.id == order.id).values(**values)
        )
        self._session.add(
            OrderEventRow(
                order_id=order.id, status=status.value, source=source.value, note=note
            )
        )
        await self._session.flush()
        order.status = status
        order.timeline.append(
            TimelineEntry(
                status=status, source=source, at=datetime.now().astimezone(), note=note
            )
        )

    async def record_initial(
        self, order: Order, source: ChangeSource, note: str | None
    ) -> None:
        self._session.add(
            OrderEventRow(
                order_id=order.id,
                status=order.status.value,
                source=source.value,
                note=note,
            )
        )
        await self._session.flush()

    async def set_prices(self, order: Order, lines: Sequence[OrderLine]) -> None:
        for line in lines:
            assert line.unit_price is not None
            await self._session.execute(
                update(OrderLineRow)
                .where(
                    OrderLineRow.order_id == order.id,
                    OrderLineRow.line_no == line.line_no,
                )
                .values(unit_price=line.unit_price.amount)
            )
        order.lines = list(lines)
        # The ERP's prices decide the currency of an order taken unpriced.
        first_price = lines[0].unit_price if lines else None
        if first_price is not None:
            order.currency = first_price.currency
        total = order.total
        await self._session.execute(
            update(OrderRow)
            .where(OrderRow.id == order.id)
            .values(
                currency=order.currency,
                total=None if total is None else total.amount,
            )
        )

    async def set_line_terms(self, order: Order, terms: Sequence[ErpLineTerms]) -> bool:
        """Record the net prices and tax rates the ERP invoiced; True if any changed.

        Terms for line numbers the order does not have are ignored (an ERP
        line added by hand in the back office is not Portico's to show).
        """
        by_line = {entry.line_no: entry for entry in terms}
        changed = False
        lines: list[OrderLine] = []
        for line in order.lines:
            entry = by_line.get(line.line_no)
            net = None if entry is None else Money(entry.net_unit_price, order.currency)
            if entry is None or (
                line.net_unit_price == net and line.tax_rate == entry.tax_rate
            ):
                lines.append(line)
                continue
            await self._session.execute(
                update(OrderLineRow)
                .where(
                    OrderLineRow.order_id == order.id,
                    OrderLineRow.line_no == line.line_no,
                )
                .values(net_unit_price=entry.net_unit_price, tax_rate=entry.tax_rate)
            )
            lines.append(
                dataclasses.replace(line, net_unit_price=net, tax_rate=entry.tax_rate)
            )
            changed = True
        if not changed:
            return False
        order.lines = lines
        total = order.total
        await self._session.execute(
            update(OrderRow)
            .where(OrderRow.id == order.id)
            .values(total=None if total is None else total.amount)
        )
        return True

    async def claim_due_submissions(
        self, limit: int, lease: timedelta
    ) -> list[uuid.UUID]:
        """Lease submitted orders whose next attempt is due, skipping ones another
        worker holds, so that replicas share the work without doubling it."""
        due = (
            select(OrderRow.id)
            .where(
                OrderRow.status == OrderStatus.SUBMITTED.value,
                OrderRow.next_attempt_at <= func.now(),
            )
            .order_by(OrderRow.next_attempt_at, OrderRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = await self._session.execute(
            update(OrderRow)
            .where(OrderRow.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=func.now() + lease)
            .returning(OrderRow.id)
        )
        return list(claimed.scalars())

    async def schedule_retry(
        self, order_id: uuid.UUID, backoff: Callable[[int], timedelta]
    ) -> tuple[int, timedelta]:
        """Count a failed attempt and set the next one ``backoff(attempts)`` on."""
        attempts: int = (
            await self._session.execute(
                update(OrderRow)
                .where(OrderRow.id == order_id)
                .values(submit_attempts=OrderRow.submit_attempts + 1)
                .returning(OrderRow.submit_attempts)
            )
        ).scalar_one()
        delay = backoff(attempts)
        await self._session.execute(
            update(OrderRow)
            .where(OrderRow.id == order_id)
            .values(next_attempt_at=func.now() + delay)
        )
        return attempts, delay

    async def _load(self, rows: Sequence[OrderRow]) -> list[Order]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        lines: dict[uuid.UUID, list[OrderLineRow]] = {order_id: [] for order_id in ids}
        for line in await self._session.scalars(
            select(OrderLineRow)
            .where(OrderLineRow.order_id.in_(ids))
            .order_by(OrderLineRow.order_id, OrderLineRow.line_no)
        ):
            lines[line.order_id].append(line)
        timeline: dict[uuid.UUID, list[OrderEventRow]] = {
            order_id: [] for order_id in ids
        }
        for event in await self._session.scalars(
            select(OrderEventRow)
            .where(OrderEventRow.order_id.in_(ids))
            .order_by(OrderEventRow.order_id, OrderEventRow.id)
        ):
            timeline[event.order_id].append(event)
        return [_order(row, lines[row.id], timeline[row.id]) for row in rows]


def _order(
    row: OrderRow, lines: list[OrderLineRow], timeline: list[OrderEventRow]
) -> Order:
    return Order(
        id=row.id,
        account_id=row.account_id,
        status=OrderStatus(row.status),
        currency=row.currency,
        lines=[
            OrderLine(
                line_no=line.line_no,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=None
                if line.unit_price is None
                else Money(line.unit_price, row.currency),
                net_unit_price=None
                if line.net_unit_price is None
                else Money(line.net_unit_price, row.currency),
                tax_rate=line.tax_rate,
            )
            for line in lines
        ],
        requested_date=row.requested_date,
        customer_reference=row.customer_reference,
        created_at=row.created_at,
        order_date=row.order_date,
        erp_number=row.erp_number,
        rejection_reason=row.rejection_reason,
        timeline=[
            TimelineEntry(
                status=OrderStatus(event.status),
                source=ChangeSource(event.source),
                at=event.at,
                note=event.note,
            )
            for event in timeline
        ],
    )
