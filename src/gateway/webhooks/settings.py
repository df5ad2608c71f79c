"""Settings for webhook delivery: what may be called, how long, how often."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

#: The retry schedule's defaults give 23 attempts over about three days:
#: ceilings of 30 s doubling up to 12 h, each wait drawn between 0 and its
#: ceiling (full jitter), so the expected span is half the ceilings' sum.
DEFAULT_RETRY_BASE_SECONDS = 30.0
DEFAULT_RETRY_MAX_SECONDS = 12 * 3600.0
DEFAULT_MAX_ATTEMPTS = 23


def _normalise_target(value: str) -> str:
    text = value.strip().lower()
    if not text:
        raise ValueError("an allowed target is a CIDR, an IP address or a host name")
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    if "/" in text or ":" in text or any(ch.isspace() for ch in text):
        raise ValueError(f"{value!r} is neither a CIDR nor a host name")
    return text.rstrip(".")


class WebhookSettings(BaseModel):
    """How Portico calls dealers' webhook endpoints.

    Every field can be set as ``PORTICO_WEBHOOKS__<FIELD>``.
    """

    allow_http: bool = Field(
        default=False,
        description="Accept plain http:// endpoint URLs. For development only: "
        "production endpoints must be https.",
    )
    allowed_targets: list[str] = Field(
        default_factory=list,
        description="CIDRs (10.1.0.0/16), addresses or host names that may be "
        "called although they are loopback, private, link-local or otherwise "
        "internal. Everything else internal is refused at delivery time.",
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        default=15.0,
        description="Total deadline of one attempt: resolving, connecting, "
        "sending and reading the answer.",
    )
    response_body_limit: Annotated[int, Field(ge=0, le=64 << 10)] = Field(
        default=4096,
        description="Bytes of a receiver's answer read and kept in the "
        "delivery log; the rest is never read.",
    )
    retry_base_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=DEFAULT_RETRY_BASE_SECONDS,
        description="Ceiling of the wait after the first failed attempt; each "
        "further failure doubles it. The wait is drawn between 0 and the "
        "ceiling (full jitter).",
    )
    retry_max_seconds: Annotated[float, Field(ge=0, le=7 * 86_400)] = Field(
        default=DEFAULT_RETRY_MAX_SECONDS,
        description="Largest ceiling of a wait between attempts.",
    )
    max_attempts: Annotated[int, Field(ge=1, le=100)] = Field(
        default=DEFAULT_MAX_ATTEMPTS,
        description="Attempts before a delivery is marked failed (it stays "
        "replayable). The defaults span about three days.",
    )
    retry_after_max_seconds: Annotated[float, Field(ge=0, le=86_400)] = Field(
        default=3600.0,
        description="Longest Retry-After (on 429 and 503) that is honoured; a "
        "longer one waits this long.",
    )
    disable_after_hours: Annotated[float, Field(ge=0, le=24 * 90)] = Field(
        default=120.0,
        description="An endpoint whose attempts have all failed for this long "
        "is disabled, and its account gets a webhook.endpoint_disabled event.",
    )
    secret_grace_hours: Annotated[float, Field(ge=0, le=24 * 30)] = Field(
        default=24.0,
        description="After a secret rotation the old secret keeps signing "
        "(beside the new one) for this long.",
    )
    dispatch_batch: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=100, description="Deliveries one dispatcher leases per round."
    )
    fanout_batch: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=1000, description="Events turned into deliveries per round."
    )
    lease_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=120.0,
        description="How long a leased delivery is left to its dispatcher "
        "before another may send it (a worker killed mid-send). Must exceed "
        "timeout_seconds.",
    )
    default_max_concurrency: Annotated[int, Field(ge=1, le=100)] = Field(
        default=10,
        description="Deliveries in flight at once to one endpoint, unless the "
        "endpoint asks for fewer or more.",
    )
    max_connections: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=200, description="Connections one dispatcher keeps open in all."
    )
    replay_max_events: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=10_000,
        description="Most events one replay request may re-send; a larger "
        "window is refused with a 422 asking to narrow it.",
    )

    @field_validator("allowed_targets")
    @classmethod
    def _targets(cls, values: list[str]) -> list[str]:
        return [_normalise_target(value) for value in values]

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> WebhookSettings:
        if self.lease_seconds <= self.timeout_seconds:
            raise ValueError(
                "lease_seconds must exceed timeout_seconds, or a slow attempt "
                "would be sent again by another dispatcher while it runs"
            )
        return self
