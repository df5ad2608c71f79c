"""The words a delivery's life is told in, shared by the worker and the API."""

from __future__ import annotations

import enum


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class DeliveryOrigin(enum.StrEnum):
    """Why a delivery exists."""

    EVENT = "event"
    REPLAY = "replay"
    TEST = "test"
