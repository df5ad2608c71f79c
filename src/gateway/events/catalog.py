"""Every event type Portico emits: its family (Kafka topic), meaning and data.

This table is the single source for the AsyncAPI document
(``openapi/asyncapi.yaml``); a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from gateway.accounts.schemas import AccountRead
from gateway.orders.schemas import OrderRead


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
            "account.created",
            "accounts",
            "A customer account was opened; data is the account.",
            AccountRead,
        ),
    )
}


def family_of(event_type: str) -> str:
    spec = EVENT_TYPES.get(event_type)
    return spec.family if spec is not None else event_type.split(".", 1)[0] + "s"


#: Every family (and so Kafka topic suffix) an event may belong to.
EVENT_FAMILIES: tuple[str, ...] = ("orders", "documents", "claims", "accounts")
