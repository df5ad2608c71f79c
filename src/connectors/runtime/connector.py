"""The base every connector class derives from."""

from __future__ import annotations

from typing import ClassVar

from connectors.runtime.config import ConnectorConfig


class Connector:
    """A configured connection to one backend system.

    Subclasses name their configuration model and the ports they implement;
    the gateway builds one instance per configured system at start-up and
    closes it at shutdown.
    """

    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    def __init__(self, name: str, config: ConnectorConfig) -> None:
        self.name = name
        self.config = config

    async def aclose(self) -> None:
        """Release pooled connections. Idempotent."""
