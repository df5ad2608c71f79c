"""Portico's settings, read from the environment.

Every field can be set as ``PORTICO_<SECTION>__<FIELD>``, for example
``PORTICO_DATABASE__URL``. Sections are small models so that each concern reads
on its own; every field says what it does, and secrets are ``SecretStr`` so that
they never print.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.claims.settings import ClaimsSettings
from gateway.storage.settings import AttachmentStorageSettings
from gateway.usage.settings import UsageSettings
from gateway.webhooks.settings import WebhookSettings


class RunMode(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(enum.StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


def default_state_dir() -> Path:
    """Where Portico keeps local state (the embedded database) for this user."""
    return Path(platformdirs.user_data_dir("portico", appauthor=False))


class DatabaseSettings(BaseModel):
    url: SecretStr | None = Field(
        default=None,
        description=(
            "PostgreSQL URL, e.g. postgresql://user:pass@host:5432/portico. "
            "When unset, Portico starts an embedded PostgreSQL in state_dir."
        ),
    )
    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Directory for the embedded PostgreSQL's data (per user).",
    )
    pool_size: Annotated[int, Field(ge=1, le=200)] = Field(
        default=10, description="Connections each process keeps open."
    )
    max_overflow: Annotated[int, Field(ge=0, le=200)] = Field(
        default=10, description="Extra connections a process may open under load."
    )
    pool_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        default=10.0, description="How long a request waits for a free connection."
    )
    statement_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = Field(
        default=15_000,
        description="Upper bound on any one SQL statement, set per connection.",
    )

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        scheme = value.get_secret_value().split("://", 1)[0]
        if scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            raise ValueError("must be a postgresql:// URL; Portico runs on PostgreSQL")
        return value


class HttpSettings(BaseModel):
    max_body_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = Field(
        default=1 << 20,
        description="Largest request body accepted; larger ones get 413 while read.",
    )
    max_header_bytes: Annotated[int, Field(ge=1024, le=1 << 20)] = Field(
        default=16 << 10,
        description="Largest total size of request headers; larger ones get 431.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (the SPA).",
    )
    cursor_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs pagination cursors. Set the same value on every "
            "replica; unset, each process makes its own, which suits one process."
        ),
    )
    public_url: str | None = Field(
        default=None,
        description="The URL partners reach this gateway at, shown by the demo.",
    )


class LogSettings(BaseModel):
    level: str = Field(default="INFO", description="Minimum log level.")
    format: LogFormat = Field(
        default=LogFormat.AUTO,
        description="json, console, or auto (json in production, console otherwise).",
    )

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper


class AuthSettings(BaseModel):
    last_used_resolution_seconds: Annotated[int, Field(ge=1, le=86_400)] = Field(
        default=60,
        description=(
            "How stale an API key's last-used time may get before a request "
            "writes it again; bounds writes under heavy traffic."
        ),
    )


class ConnectorInstanceSettings(BaseModel):
    kind: str = Field(
        description="The connector's entry-point name in 'portico.connectors'."
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="The connector's own settings, validated by its config model.",
    )


class PortBindings(BaseModel):
    """Which configured connector serves which port. Unbound ports are off."""

    erp: str | None = Field(default=None, description="Connector serving ErpPort.")
    cms: str | None = Field(
        default=None,
        description="Connector serving CmsPort; defaults to the ERP's master data.",
    )
    crm: str | None = Field(
        default=None,
        description="Connector serving CrmPort; defaults to the ERP's customers.",
    )


class CatalogSettings(BaseModel):
    read_deadline_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        default=3.0,
        description="How long a catalog read waits for each backend part.",
    )
    price_ttl_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=30.0, description="How long a fetched price is reused."
    )
    stock_ttl_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=15.0, description="How long a fetched stock level is reused."
    )
    content_ttl_seconds: Annotated[float, Field(ge=0, le=86_400)] = Field(
        default=300.0, description="How long fetched product content is reused."
    )
    cache_entries: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=20_000, description="Cached parts kept per process, per kind."
    )


class KafkaSettings(BaseModel):
    bootstrap_servers: str | None = Field(
        default=None,
        description="host:port[,host:port]. Unset: no relay; the feed, stream "
        "and webhooks still work from the outbox.",
    )
    topic_prefix: str = Field(
        default="portico.",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Topics are <prefix><family>: orders, documents, claims, accounts.",
    )
    linger_ms: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=5, description="How long the producer waits to fill a batch."
    )
    batch: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=1000, description="Outbox rows the relay publishes per round."
    )
    retention_hours: Annotated[float, Field(ge=0, le=24 * 365)] = Field(
        default=168.0,
        description="How long published events stay in the outbox (for the "
        "changes feed and replays) before they are removed.",
    )


class WorkerSettings(BaseModel):
    submit_interval_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        default=1.0, description="How often the worker looks for orders to submit."
    )
    submit_batch: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=20, description="Orders one worker claims at a time."
    )
    submit_lease_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=120.0,
        description="How long a claimed order is left to its worker before "
        "another may take it over (a worker killed mid-call).",
    )
    retry_base_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=2.0, description="First wait before resubmitting to a failing ERP."
    )
    retry_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = Field(
        default=300.0, description="Longest wait between submission attempts."
    )
    sync_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=5.0, description="How often each ERP is polled for changes."
    )
    sync_batch: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=200, description="Changes read from the ERP per poll."
    )


def default_peer_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("portico", appauthor=False)) / "peers"


class PeerSettings(BaseModel):
    cache_dir: Path = Field(
        default_factory=default_peer_cache_dir,
        description="Where the demo keeps TPC-H data and peer snapshots.",
    )
    scale: Annotated[float, Field(gt=0, le=10)] = Field(
        default=0.01, description="TPC-H scale factor the demo's ERP is seeded at."
    )


class Settings(BaseSettings):
    """All of Portico's settings. Build with ``load_settings()``."""

    model_config = SettingsConfigDict(
        env_prefix="PORTICO_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    mode: RunMode = Field(
        default=RunMode.DEVELOPMENT,
        description="production switches logs to JSON and hides debug detail.",
    )
    database: DatabaseSettings = Field(
        default_factory=DatabaseSettings,
        description="The PostgreSQL database: URL and connection pool.",
    )
    http: HttpSettings = Field(
        default_factory=HttpSettings,
        description="The HTTP API: request limits, CORS, cursor signing.",
    )
    log: LogSettings = Field(
        default_factory=LogSettings, description="Log level and format."
    )
    auth: AuthSettings = Field(
        default_factory=AuthSettings,
        description="How API keys are checked and their use recorded.",
    )
    connectors: dict[str, ConnectorInstanceSettings] = Field(
        default_factory=dict,
        description=(
            "Back-office connections by name, as JSON: "
            '{"erp": {"kind": "tryton", "options": {...}}}.'
        ),
    )
    ports: PortBindings = Field(
        default_factory=PortBindings,
        description="Which configured connector serves which port.",
    )
    catalog: CatalogSettings = Field(
        default_factory=CatalogSettings,
        description="Catalog reads: backend deadline and caching.",
    )
    peers: PeerSettings = Field(
        default_factory=PeerSettings,
        description="The demo's local peer systems and their TPC-H data.",
    )
    worker: WorkerSettings = Field(
        default_factory=WorkerSettings,
        description="Order submission to the ERP and polling it.",
    )
    kafka: KafkaSettings = Field(
        default_factory=KafkaSettings,
        description="The relay of outbox events to Kafka.",
    )
    claims: ClaimsSettings = Field(
        default_factory=ClaimsSettings,
        description="Claims: attachment limits and the ERP tasks.",
    )
    storage: AttachmentStorageSettings = Field(
        default_factory=AttachmentStorageSettings,
        description="Where claim attachments are kept: PostgreSQL or S3.",
    )
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings,
        description="Webhook delivery: targets, deadlines, retries.",
    )
    usage: UsageSettings = Field(
        default_factory=UsageSettings,
        description="Usage analytics: how counts are written.",
    )

    @model_validator(mode="after")
    def _ports_name_connectors(self) -> Settings:
        for port, name in self.ports.model_dump().items():
            if name is not None and name not in self.connectors:
                known = ", ".join(sorted(self.connectors)) or "none configured"
                raise ValueError(
                    f"ports.{port} names connector {name!r}, which is not in "
                    f"connectors ({known})"
                )
        return self


class SettingsError(Exception):
    """Settings that cannot start Portico, with each offending variable named."""


def load_settings() -> Settings:
    """Read settings from the environment, naming each bad variable on failure."""
    try:
        return Settings()
    except ValidationError as error:
        lines = []
        for item in error.errors(include_input=False, include_url=False):
            path = "__".join(str(part) for part in item["loc"]).upper()
            name = f"PORTICO_{path}" if path else "settings"
            lines.append(f"{name}: {item['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
