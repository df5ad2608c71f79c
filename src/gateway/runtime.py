"""Start-up shared by the CLI commands: settings, logs and the database URL."""

from __future__ import annotations

import os
from dataclasses import dataclass

from gateway.db.embedded import start_embedded_postgres
from gateway.db.migrations import upgrade_to_head
from gateway.logs import configure_logging, get_logger
from gateway.settings import Settings, load_settings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    database_url: str
    embedded: bool


def prepare(*, migrate_embedded: bool = True) -> Runtime:
    """Load settings, configure logs and find (or start) the database.

    The embedded default is migrated here, so a newcomer never has to; a
    configured server is migrated only by an explicit ``portico db upgrade``,
    because production schema changes deserve a deliberate step.
    """
    settings = load_settings()
    configure_logging(settings)
    if settings.database.url is not None:
        return Runtime(settings, settings.database.url.get_secret_value(), False)
    embedded = start_embedded_postgres(settings.database.state_dir)
    if migrate_embedded:
        upgrade_to_head(embedded.url)
    # Worker processes that uvicorn spawns read the URL from the environment
    # and attach to the same server instead of starting their own.
    os.environ["PORTICO_DATABASE__URL"] = embedded.url
    return Runtime(load_settings(), embedded.url, True)
