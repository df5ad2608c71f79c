"""Managing endpoints and their deliveries on a dealer's behalf.

Each method works inside the caller's transaction and only flushes. An
endpoint or delivery of another account is NotFoundError, like one that does
not exist. Secrets are generated here and returned only by ``create`` and
``rotate_secret``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.db.tables import OutboxRow, WebhookDeliveryRow, WebhookEndpointRow
from gateway.events.catalog import EVENT_TYPES
from gateway.webhooks.fanout import fanout_position
from gateway.webhooks.messages import (
    event_message,
    ping_message,
    queue_deliveries,
    stored_messages,
    wake_dispatchers,
)
from gateway.webhooks.repository import DeliveryRepository, EndpointRepository
from gateway.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.signing import new_secret
from gateway.webhooks.states import DeliveryOrigin, DeliveryStatus
from gateway.webhooks.targets import TargetPolicy, validated_url


def known_event_types(types: list[str]) -> list[str]:
    """The types, deduplicated in order, or InvalidInputError naming the
    unknown ones and listing the catalog."""
    unknown = sorted(set(types) - EVENT_TYPES.keys())
    if unknown:
        raise InvalidInputError(
            f"unknown event type(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(EVENT_TYPES))}",
            field="event_types",
        )
    return list(dict.fromkeys(types))


class WebhookEndpoints:
    def __init__(self, settings: WebhookSettings) -> None:
        self._settings = settings
        self._policy = TargetPolicy.of(settings)

    async def create(
        self,
        session: AsyncSession,
        account_id: uuid.UUID,
        create: WebhookEndpointCreate,
    ) -> tuple[WebhookEndpointRow, str]:
        """A new endpoint and its signing secret, to be shown once."""
        secret = new_secret()
        row = WebhookEndpointRow(
            id=uuid.uuid4(),
            account_id=account_id,
            url=validated_url(create.url, self._policy),
            description=create.description,
            event_types=known_event_types(create.event_types),
            enabled=create.enabled,
            strict_ordering=create.strict_ordering,
            max_concurrency=create.max_concurrency
            or self._settings.default_max_concurrency,
            secret=secret,
        )
        return await EndpointRepository(session).add(row), secret

    async def get(
        self,
        session: AsyncSession,
        account_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> WebhookEndpointRow:
        row = await EndpointRepository(session).get(
            account_id, endpoint_id, for_update=for_update
        )
        if row is None:
            raise NotFoundError("webhook endpoint", endpoint_id)
        return row

    async def update(
        self,
        session: AsyncSession,
        account_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        change: WebhookEndpointUpdate,
    ) -> WebhookEndpointRow:
        """Apply the fields sent. Re-enabling clears the reason and the
        failure clock, and the endpoint's waiting deliveries go on."""
        row = await self.get(session, account_id, endpoint_id, for_update=True)
        sent = change.model_fields_set
        for name in ("url", "event_types", "enabled", "strict_ordering"):
            if name in sent and getattr(change, name) is None:
                raise InvalidInputError(f"{name} cannot be null", field=name)
        if change.url is not None:
            row.url = validated_url(change.url, self._policy)
        if change.event_types is not None:
            row.event_types = known_event_types(change.event_types)
        if "description" in sent:
            row.description = change.description
        if change.strict_ordering is not None:
            row.strict_ordering = change.strict_ordering
        if "max_concurrency" in sent:
            row.max_concurrency = (
                change.max_concurrency or self._settings.default_max_concurrency
            )
        if change.enabled is not None:
            if change.enabled and not row.enabled:
                row.disabled_reason = None
                row.failing_since = None
                await wake_dispatchers(session)
            row.enabled = change.enabled
        row.updated_at = datetime.now(UTC)
        await session.flush()
        return row

    async def rotate_secret(
        self, session: AsyncSession, account_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> tuple[WebhookEndpointRow, str]:
        """A new secret; the current one keeps signing through the grace
        period. A second rotation inside it retires the oldest at once."""
        row = await self.get(session, account_id, endpoint_id, for_update=True)
        now = datetime.now(UTC)
        secret = new_secret()
        row.previous_secret = row.secret
        row.previous_secret_expires_at = now + timedelta(
            hours=self._settings.secret_grace_hours
        )
        row.secret = secret
        row.updated_at = now
        await session.flush()
        return row, secret

    async def remove(
        self, session: AsyncSession, account_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> None:
        if not await EndpointRepository(session).remove(account_id, endpoint_id):
            raise NotFoundError("webhook endpoint", endpoint_id)

    async def send_test(
        self, session: AsyncSession, account_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookDeliveryRow:
        """Queue a ``webhook.ping`` to the endpoint, due now."""
        endpoint = await self._enabled(session, account_id, endpoint_id)
        [delivery_id] = await queue_deliveries(
            session, [(ping_message(endpoint), endpoint)], DeliveryOrigin.TEST
        )
        return await self._delivery(session, account_id, delivery_id)

    async def replay(
        self,
        session: AsyncSession,
        account_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        since: datetime,
        until: datetime | None,
    ) -> int:
        """Queue again every event of the window the endpoint's filter takes,
        each with its original body and id. Events not yet fanned out are
        left to the fan-out, which will queue them anyway."""
        endpoint = await self._enabled(session, account_id, endpoint_id)
        end = until or datetime.now(UTC)
        if end <= since:
            raise InvalidInputError("until must be later than since", field="until")
        statement = (
            select(OutboxRow)
            .where(
                OutboxRow.account_id == account_id,
                OutboxRow.position.is_not(None),
                OutboxRow.position <= await fanout_position(session),
                OutboxRow.occurred_at >= since,
                OutboxRow.occurred_at < end,
            )
            .order_by(OutboxRow.position)
            .limit(self._settings.replay_max_events + 1)
        )
        if endpoint.event_types:
            statement = statement.where(OutboxRow.type.in_(endpoint.event_types))
        events = list(await session.scalars(statement))
        if len(events) > self._settings.replay_max_events:
            raise InvalidInputError(
                f"the window holds more than {self._settings.replay_max_events} "
                "events; replay it in narrower windows",
                field="since",
            )
        stored = await stored_messages(session, (event.event_id for event in events))
        targets = [
            (stored.get(event.event_id) or event_message(event), endpoint)
            for event in events
        ]
        await queue_deliveries(session, targets, DeliveryOrigin.REPLAY)
        return len(targets)

    async def retry(
        self, session: AsyncSession, account_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDeliveryRow:
        """Make the delivery due now, with a fresh budget of attempts."""
        delivery = await DeliveryRepository(session).get(
            account_id, delivery_id, for_update=True
        )
        if delivery is None:
            raise NotFoundError("webhook delivery", delivery_id)
        await self._enabled(session, account_id, delivery.endpoint_id)
        now = datetime.now(UTC)
        in_flight = (
            delivery.lease_token is not None
            and delivery.next_attempt_at is not None
            and delivery.next_attempt_at > now
        )
        if in_flight:
            raise ConflictError(
                "an attempt of this delivery is in flight; look again shortly"
            )
        delivery.status = DeliveryStatus.PENDING.value
        delivery.next_attempt_at = func.now()
        delivery.budget_start = delivery.attempt_count
        delivery.updated_at = now
        await session.flush()
        await wake_dispatchers(session)
        await session.refresh(delivery)
        return delivery

    async def _enabled(
        self, session: AsyncSession, account_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookEndpointRow:
        endpoint = await self.get(session, account_id, endpoint_id)
        if not endpoint.enabled:
            raise ConflictError(
                "the endpoint is disabled; enable it (PATCH enabled=true) first"
            )
        return endpoint

    @staticmethod
    async def _delivery(
        session: AsyncSession, account_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> WebhookDeliveryRow:
        delivery = await DeliveryRepository(session).get(account_id, delivery_id)
        assert delivery is not None
        return delivery
