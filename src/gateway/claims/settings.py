"""Settings of the claims feature (``PORTICO_CLAIMS__*`` once wired)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

DEFAULT_MEDIA_TYPES = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
)


class ClaimsSettings(BaseModel):
    max_attachment_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = Field(
        default=20 << 20,
        description="Largest attachment accepted; larger uploads get 413 while "
        "they arrive, before the rest is read.",
    )
    attachment_media_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MEDIA_TYPES),
        description="Media types an attachment may have, as read from its "
        "content (never from the declared type or the name).",
    )
    max_attachments: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=50, description="Files one claim may carry."
    )
    erp_interval_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        default=1.0, description="How often the worker tells the ERP about claims."
    )
    erp_batch: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=20, description="ERP tasks one worker leases at a time."
    )
    erp_lease_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=120.0,
        description="How long a leased task is left to its worker before another "
        "may take it over.",
    )
    retry_base_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=2.0, description="First wait before repeating a failed ERP task."
    )
    retry_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = Field(
        default=300.0, description="Longest wait between attempts of a task."
    )
