"""Settings of the attachment store (``PORTICO_STORAGE__*`` once wired)."""

from __future__ import annotations

import enum

from pydantic import BaseModel, Field, SecretStr


class StorageKind(enum.StrEnum):
    POSTGRES = "postgres"
    S3 = "s3"


class S3Settings(BaseModel):
    endpoint_url: str | None = Field(
        default=None,
        description="The S3-compatible endpoint; unset: AWS's regional one.",
    )
    region: str = Field(default="us-east-1", description="The bucket's region.")
    bucket: str = Field(default="portico-attachments", description="Bucket name.")
    prefix: str = Field(
        default="claims/", description="Key prefix of every object Portico writes."
    )
    access_key_id: SecretStr | None = Field(
        default=None, description="Unset: the SDK's usual credential chain."
    )
    secret_access_key: SecretStr | None = Field(
        default=None,
        description="Secret of access_key_id; unset: the SDK's usual credential chain.",
    )
    part_bytes: int = Field(
        default=8 << 20,
        ge=5 << 20,
        le=512 << 20,
        description="Multipart upload part size; one part is buffered at a time.",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Per-request connect/read timeout."
    )


class AttachmentStorageSettings(BaseModel):
    kind: StorageKind = Field(
        default=StorageKind.POSTGRES,
        description="postgres (chunks in Portico's database) or s3.",
    )
    s3: S3Settings = Field(
        default_factory=S3Settings,
        description="The S3-compatible store, used when kind is s3.",
    )
