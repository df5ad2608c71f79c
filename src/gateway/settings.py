"""Portico's settings, read from the environment.

Every field can be set as ``PORTICO_<SECTION>__<FIELD>``, for example
``PORTICO_DATABASE__URL``. Sections are small models so that each concern reads
on its own; every field says what it does, and secrets are ``SecretStr`` so that
they never print.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)


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
            lines.append(f"PORTICO_{path}: {item['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
