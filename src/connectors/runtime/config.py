"""Settings every connector has; each connector's own model extends them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class ConnectorConfig(BaseModel):
    """How to reach one backend and how patiently.

    ``deadline_seconds`` bounds a whole call, retries included, so that a
    backend trickling one byte at a time cannot hold a request longer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: HttpUrl = Field(description="Root URL of the backend's API.")
    deadline_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        default=5.0, description="Total time one call may take, retries included."
    )
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        default=2.0, description="Time to open a TCP connection."
    )
    max_concurrency: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=20, description="Calls in flight at once; more wait their turn."
    )
    retry_attempts: Annotated[int, Field(ge=1, le=10)] = Field(
        default=3, description="Attempts for idempotent calls (1 means no retry)."
    )
    retry_wait_initial_seconds: Annotated[float, Field(ge=0, le=10)] = Field(
        default=0.1, description="First backoff; grows exponentially with jitter."
    )
    breaker_threshold: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=5, description="Consecutive failures that open the circuit."
    )
    breaker_reset_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=30.0, description="How long an open circuit waits before a probe."
    )
