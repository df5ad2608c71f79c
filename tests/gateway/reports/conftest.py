"""Rows for the reports, written through the orders and claims repositories
with exactly the prices, dates and clocks a test names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import Account
from domain.accounts.scopes import DEALER_SCOPES, Scope
from domain.claims.model import (
    Claim,
    ClaimLine,
    ClaimReason,
    ClaimType,
    SlaClock,
)
from domain.claims.sla import due_times
from domain.claims.status import ClaimStatus
from domain.money import Money
from domain.orders.model import Order, OrderLine
from domain.orders.status import OrderStatus
from gateway.claims.repository import ClaimRepository
from gateway.db.engine import transaction
from gateway.orders.repository import OrderRepository

#: What a supplier's reporting key gets: its own account's scopes and the
#: cross-account view.
SUPPLIER_SCOPES = DEALER_SCOPES | {Scope.REPORTS_ALL}


@dataclass(frozen=True, slots=True)
class Line:
    """An order line: pieces, list price, confirmed net price, tax rate."""

    quantity: int
    unit_price: str | None
    net_unit_price: str | None = None
    tax_rate: str = "0"


async def add_order(
    sessions: async_sessionmaker[AsyncSession],
    account: Account,
    order_date: date,
    *lines: Line,
    status: OrderStatus = OrderStatus.INVOICED,
    currency: str = "EUR",
) -> uuid.UUID:
    """Store an order as the ERP priced it, through the orders repository."""
    order = Order(
        id=uuid.uuid4(),
        account_id=account.id,
        status=status,
        currency=currency,
        lines=[
            OrderLine(
                line_no=number,
                sku=f"P{number}",
                quantity=line.quantity,
                unit_price=_money(line.unit_price, currency),
                net_unit_price=_money(line.net_unit_price, currency),
                tax_rate=Decimal(line.tax_rate),
            )
            for number, line in enumerate(lines, start=1)
        ],
        requested_date=None,
        customer_reference=None,
        created_at=datetime.now(UTC),
        order_date=order_date,
    )
    async with transaction(sessions) as session:
        await OrderRepository(session).add(order, erp_system="erp", reordered_from=None)
    return order.id


def _money(amount: str | None, currency: str) -> Money | None:
    return None if amount is None else Money(Decimal(amount), currency)


async def add_claim(
    sessions: async_sessionmaker[AsyncSession],
    account: Account,
    order_id: uuid.UUID,
    created_at: datetime,
    *,
    type: ClaimType = ClaimType.COMPLAINT,
    status: ClaimStatus = ClaimStatus.SUBMITTED,
    first_answered_at: datetime | None = None,
    settled_at: datetime | None = None,
) -> uuid.UUID:
    """Store a claim filed at ``created_at``, its deadlines set by the domain's
    service levels, and its clock as given."""
    due = due_times(type, created_at, account.zone)
    claim = Claim(
        id=uuid.uuid4(),
        account_id=account.id,
        order_id=order_id,
        type=type,
        status=status,
        description="Parts arrived broken",
        lines=[
            ClaimLine(
                line_no=1,
                order_line_no=1,
                sku="P1",
                quantity=1,
                reason=ClaimReason.DAMAGED,
                note=None,
            )
        ],
        sla=SlaClock(
            first_answer_due_at=due.first_answer_due_at,
            resolution_due_at=due.resolution_due_at,
            first_answered_at=first_answered_at,
            settled_at=settled_at,
        ),
        created_at=created_at,
    )
    async with transaction(sessions) as session:
        repository = ClaimRepository(session)
        await repository.add(claim, erp_system=None)
        # Filing stamps the database's clock; a report test needs its own.
        await repository.update(
            claim.id,
            created_at=created_at,
            first_answered_at=first_answered_at,
            settled_at=settled_at,
        )
    return claim.id
