"""Table definitions. Alembic migrations own the schema; these mirror it."""

from gateway.db.tables.accounts import AccountRow, ApiKeyRow
from gateway.db.tables.base import Base
from gateway.db.tables.claims import (
    AttachmentChunkRow,
    ClaimAttachmentRow,
    ClaimCommentRow,
    ClaimErpTaskRow,
    ClaimEventRow,
    ClaimLineRow,
    ClaimRow,
)
from gateway.db.tables.documents import DocumentRow
from gateway.db.tables.idempotency import IdempotencyKeyRow
from gateway.db.tables.orders import OrderEventRow, OrderLineRow, OrderRow
from gateway.db.tables.outbox import OutboxRow, ProcessedEventRow, SyncCursorRow
from gateway.db.tables.references import ExternalRefRow
from gateway.db.tables.usage import UsageCounterRow
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
    "AttachmentChunkRow",
    "Base",
    "ClaimAttachmentRow",
    "ClaimCommentRow",
    "ClaimErpTaskRow",
    "ClaimEventRow",
    "ClaimLineRow",
    "ClaimRow",
    "DocumentRow",
    "ExternalRefRow",
    "IdempotencyKeyRow",
    "OrderEventRow",
    "OrderLineRow",
    "OrderRow",
    "OutboxRow",
    "ProcessedEventRow",
    "SyncCursorRow",
    "UsageCounterRow",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "WebhookFanoutCursorRow",
    "WebhookMessageRow",
]
