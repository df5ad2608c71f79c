"""Every event type Portico emits: its family (Kafka topic), meaning and data.

This table is the single source for the AsyncAPI document
(``openapi/asyncapi.yaml``); a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from gateway.accounts.schemas import AccountRead
from gateway.claims.schemas import ClaimRead
from gateway.documents.schemas import DocumentRead
from gateway.orders.schemas import OrderRead
from gateway.webhooks.schemas import WebhookEndpointRead


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    family: str
    summary: str
    data: type[BaseModel]


EVENT_TYPES: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        EventSpec(
            "order.created",
            "orders",
            "An order was placed; data is the order as GET /v1/orders/{id} shows it.",
            OrderRead,
        ),
        EventSpec(
            "order.status_changed",
            "orders",
            "An order moved to another status (approval, ERP acceptance, "
            "shipment, invoice, cancellation, rejection); data is the order.",
            OrderRead,
        ),
        EventSpec(
            "document.issued",
            "documents",
            "The ERP issued a document to the account (an invoice or credit note "
            "posted, a delivery note shipped, a quotation sent); data is the "
            "document as GET /v1/documents/{id} shows it.",
            DocumentRead,
        ),
        EventSpec(
            "document.updated",
            "documents",
            "A document changed in the ERP (paid, cancelled, re-dated) or "
            "appeared while still being prepared; data is the document.",
            DocumentRead,
        ),
        EventSpec(
            "claim.created",
            "claims",
            "A claim was filed; data is the claim as GET /v1/claims/{id} shows it.",
            ClaimRead,
        ),
        EventSpec(
            "claim.updated",
            "claims",
            "A claim moved (review, the supplier's decision, settlement, "
            "withdrawal) or gained a comment or a file; data is the claim.",
            ClaimRead,
        ),
        EventSpec(
            "account.created",
            "accounts",
            "A customer account was opened; data is the account.",
            AccountRead,
        ),
        EventSpec(
            "webhook.endpoint_disabled",
            "webhooks",
            "Portico disabled one of the account's webhook endpoints: it answered "
            "410 Gone, or every attempt failed for longer than the deployment "
            "allows. data is the endpoint (never its secret); disabled_reason "
            "says why.",
            WebhookEndpointRead,
        ),
    )
}


def family_of(event_type: str) -> str:
    spec = EVENT_TYPES.get(event_type)
    return spec.family if spec is not None else event_type.split(".", 1)[0] + "s"


#: Every family (and so Kafka topic suffix) an event may belong to.
EVENT_FAMILIES: tuple[str, ...] = ("orders", "documents", "claims", "accounts")
