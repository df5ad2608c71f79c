"""Table definitions. Alembic migrations own the schema; these mirror it."""

from gateway.db.tables.accounts import AccountRow, ApiKeyRow
from gateway.db.tables.base import Base
from gateway.db.tables.idempotency import IdempotencyKeyRow
from gateway.db.tables.orders import OrderEventRow, OrderLineRow, OrderRow
from gateway.db.tables.outbox import OutboxRow, ProcessedEventRow, SyncCursorRow
from gateway.db.tables.references import ExternalRefRow
from gateway.db.tables.webhooks import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
    WebhookFanoutCursorRow,
    WebhookMessageRow,
)

__all__ = [
    "AccountRow",
    "ApiKeyRow",
    "Base",
    "ExternalRefRow",
    "IdempotencyKeyRow",
    "OrderEventRow",
    "OrderLineRow",
    "OrderRow",
    "OutboxRow",
    "ProcessedEventRow",
    "SyncCursorRow",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "WebhookFanoutCursorRow",
    "WebhookMessageRow",
]
