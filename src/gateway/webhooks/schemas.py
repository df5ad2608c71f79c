"""The webhooks API's shapes.

``WebhookEndpointRead`` is also the data of the ``webhook.endpoint_disabled``
event. No read model holds a secret: it is shown only in the answers that
issue one (``WebhookEndpointCreated``, ``WebhookSecret``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.types import Timestamp
from gateway.db.tables import (
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)
from gateway.webhooks.states import DeliveryOrigin, DeliveryStatus

MAX_EVENT_TYPES = 100

EventTypeName = Annotated[
    str, Field(min_length=1, max_length=100, examples=["order.status_changed"])
]
Description = Annotated[str, Field(max_length=500)]
Concurrency = Annotated[int, Field(ge=1, le=100, strict=True)]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2048,
        description="Where to POST events. https only (http where the "
        "deployment allows it for development).",
        examples=["https://erp.dealer.example/portico/webhooks"],
    )
    event_types: Annotated[list[EventTypeName], Field(max_length=MAX_EVENT_TYPES)] = (
        Field(
            default_factory=list,
            description="Event types to send; empty for every type. Unknown "
            "types are refused.",
        )
    )
    description: Description | None = None
    enabled: bool = True
    strict_ordering: bool = Field(
        default=False,
        description="Send one entity's events one at a time, in commit order: "
        "an event waits until the ones before it for the same subject were "
        "delivered or given up.",
    )
    max_concurrency: Concurrency | None = Field(
        default=None,
        description="Requests in flight to this endpoint at once; the "
        "deployment's default when omitted.",
    )


class WebhookEndpointUpdate(BaseModel):
    """Fields to change; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(max_length=2048)] | None = None
    event_types: (
        Annotated[list[EventTypeName], Field(max_length=MAX_EVENT_TYPES)] | None
    ) = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None,
        description="true re-enables an endpoint that was disabled (by hand, "
        "after a 410, or after failing too long); its waiting deliveries go on.",
    )
    strict_ordering: bool | None = None
    max_concurrency: Concurrency | None = None


class WebhookEndpointRead(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str] = Field(description="Empty means every type.")
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why Portico disabled the endpoint, if it did."
    )
    strict_ordering: bool
    max_concurrency: int
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret before the last rotation still signs."
    )
    failing_since: datetime | None = Field(
        description="Start of the current run of failed attempts; null after a success."
    )
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointRead):
    secret: str = Field(
        description="The signing secret (Standard Webhooks whsec_ form). Shown "
        "only now; store it to verify webhook-signature.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookSecret(BaseModel):
    secret: str = Field(description="The new signing secret, shown only now.")
    previous_secret_expires_at: datetime = Field(
        description="Until then requests carry signatures by both secrets."
    )


class WebhookEndpointPage(BaseModel):
    items: list[WebhookEndpointRead]
    next_cursor: str | None


class WebhookAttemptRead(BaseModel):
    attempt: int = Field(description="1 for the first attempt, counting on.")
    started_at: datetime
    duration_ms: int | None = Field(
        description="Null for an attempt whose worker stopped before recording."
    )
    response_status: int | None
    response_body: str | None = Field(
        description="The start of the receiver's answer, truncated."
    )
    error_class: str | None = Field(
        description="Null on success; else one of http_status, rate_limited, "
        "gone, redirect_not_followed, timeout, connection_error, tls_error, "
        "dns_error, target_refused, insecure_url, abandoned.",
        examples=["timeout"],
    )
    error_detail: str | None


class WebhookDeliveryRead(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID = Field(
        description="The event's id, sent as webhook-id on every attempt."
    )
    event_type: str
    subject: str
    origin: DeliveryOrigin
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None = Field(
        description="When the next attempt is due, while pending."
    )
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[WebhookAttemptRead]


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliveryRead]
    next_cursor: str | None


class WebhookReplay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Timestamp = Field(
        description="Start of the window (inclusive): when events occurred.",
        examples=["2025-03-30T00:00:00+02:00"],
    )
    until: Timestamp | None = Field(
        default=None, description="End of the window (exclusive); now if omitted."
    )


class WebhookReplayResult(BaseModel):
    deliveries: int = Field(description="Deliveries queued, one per event.")


def endpoint_read(row: WebhookEndpointRow) -> WebhookEndpointRead:
    return WebhookEndpointRead(
        id=row.id,
        url=row.url,
        event_types=list(row.event_types),
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        strict_ordering=row.strict_ordering,
        max_concurrency=row.max_concurrency,
        previous_secret_expires_at=row.previous_secret_expires_at,
        failing_since=row.failing_since,
        last_success_at=row.last_success_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def attempt_read(row: WebhookAttemptRow) -> WebhookAttemptRead:
    return WebhookAttemptRead(
        attempt=row.attempt,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        response_status=row.response_status,
        response_body=row.response_body,
        error_class=row.error_class,
        error_detail=row.error_detail,
    )


def delivery_read(
    row: WebhookDeliveryRow, attempts: list[WebhookAttemptRow]
) -> WebhookDeliveryRead:
    return WebhookDeliveryRead(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        subject=row.subject,
        origin=DeliveryOrigin(row.origin),
        status=DeliveryStatus(row.status),
        attempt_count=row.attempt_count,
        next_attempt_at=row.next_attempt_at
        if row.status == DeliveryStatus.PENDING
        else None,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        attempts=[attempt_read(attempt) for attempt in attempts],
    )
