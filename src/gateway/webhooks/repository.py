"""Reading and writing endpoints and deliveries. Flushes; never commits.

Every read takes the account id: another account's endpoint or delivery is
simply not found, so an id never reveals that it exists elsewhere.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow
from gateway.webhooks.states import DeliveryStatus


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    endpoint_id: uuid.UUID | None = None
    statuses: frozenset[DeliveryStatus] = frozenset()
    event_types: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None


class EndpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: WebhookEndpointRow) -> WebhookEndpointRow:
        self._session.add(row)
        await self._session.flush()
        await self._session.refresh(row)
        return row

    async def get(
        self,
        account_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> WebhookEndpointRow | None:
        statement = select(WebhookEndpointRow).where(
            WebhookEndpointRow.id == endpoint_id,
            WebhookEndpointRow.account_id == account_id,
        )
        if for_update:
            statement = statement.with_for_update()
        row: WebhookEndpointRow | None = await self._session.scalar(statement)
        return row

    async def page(
        self,
        account_id: uuid.UUID,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> tuple[list[WebhookEndpointRow], tuple[datetime, uuid.UUID] | None]:
        """Endpoints oldest first, after ``after``; and where the next page starts."""
        statement = select(WebhookEndpointRow).where(
            WebhookEndpointRow.account_id == account_id
        )
        if after is not None:
            statement = statement.where(
                tuple_(WebhookEndpointRow.created_at, WebhookEndpointRow.id)
                > tuple_(*after)
            )
        rows = list(
            await self._session.scalars(
                statement.order_by(
                    WebhookEndpointRow.created_at, WebhookEndpointRow.id
                ).limit(limit + 1)
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more and rows else None
        return rows, None if last is None else (last.created_at, last.id)

    async def remove(self, account_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
        """Delete the endpoint with its deliveries and their log."""
        removed = await self._session.scalar(
            delete(WebhookEndpointRow)
            .where(
                WebhookEndpointRow.id == endpoint_id,
                WebhookEndpointRow.account_id == account_id,
            )
            .returning(WebhookEndpointRow.id)
        )
        return removed is not None


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self,
        account_id: uuid.UUID,
        delivery_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> WebhookDeliveryRow | None:
        statement = select(WebhookDeliveryRow).where(
            WebhookDeliveryRow.id == delivery_id,
            WebhookDeliveryRow.account_id == account_id,
        )
        if for_update:
            statement = statement.with_for_update()
        row: WebhookDeliveryRow | None = await self._session.scalar(statement)
        return row

    async def page(
        self,
        account_id: uuid.UUID,
        filters: DeliveryFilter,
        after: int | None,
        limit: int,
    ) -> tuple[list[WebhookDeliveryRow], int | None]:
        """Deliveries newest first, after ``after`` (a ``seq``); and where the
        next page starts. ``seq`` is unique, so no delivery is seen twice."""
        statement = select(WebhookDeliveryRow).where(
            WebhookDeliveryRow.account_id == account_id
        )
        if filters.endpoint_id is not None:
            statement = statement.where(
                WebhookDeliveryRow.endpoint_id == filters.endpoint_id
            )
        if filters.statuses:
            statement = statement.where(
                WebhookDeliveryRow.status.in_(sorted(filters.statuses))
            )
        if filters.event_types:
            statement = statement.where(
                WebhookDeliveryRow.event_type.in_(sorted(filters.event_types))
            )
        if filters.since is not None:
            statement = statement.where(WebhookDeliveryRow.created_at >= filters.since)
        if filters.until is not None:
            statement = statement.where(WebhookDeliveryRow.created_at < filters.until)
        if after is not None:
            statement = statement.where(WebhookDeliveryRow.seq < after)
        rows = list(
            await self._session.scalars(
                statement.order_by(WebhookDeliveryRow.seq.desc()).limit(limit + 1)
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, rows[-1].seq if more and rows else None

    async def attempts(
        self, deliveries: Sequence[WebhookDeliveryRow]
    ) -> dict[uuid.UUID, list[WebhookAttemptRow]]:
        """Each delivery's attempts, first to last."""
        found: dict[uuid.UUID, list[WebhookAttemptRow]] = defaultdict(list)
        if not deliveries:
            return found
        rows = await self._session.scalars(
            select(WebhookAttemptRow)
            .where(WebhookAttemptRow.delivery_id.in_([row.id for row in deliveries]))
            .order_by(
                WebhookAttemptRow.delivery_id,
                WebhookAttemptRow.attempt,
                WebhookAttemptRow.id,
            )
        )
        for row in rows:
            found[row.delivery_id].append(row)
        return found
