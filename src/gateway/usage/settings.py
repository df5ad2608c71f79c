"""Settings of usage analytics (``PORTICO_USAGE__*``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class UsageSettings(BaseModel):
    flush_interval_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        default=5.0,
        description="How often each process writes the usage counts it has "
        "gathered in memory; a crashed process loses at most this much.",
    )
    shutdown_flush_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        default=5.0,
        description="How long a stopping process waits for its last write of "
        "usage counts before it gives them up.",
    )
