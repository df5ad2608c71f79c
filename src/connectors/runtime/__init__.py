"""The machinery every connector shares for its outbound calls."""

from connectors.runtime.calls import ConnectorCalls
from connectors.runtime.config import ConnectorConfig
from connectors.runtime.connector import Connector
from connectors.runtime.errors import translate_http_errors
from connectors.runtime.http import build_http_client
from connectors.runtime.registry import discover_connectors, load_connector

__all__ = [
    "Connector",
    "ConnectorCalls",
    "ConnectorConfig",
    "build_http_client",
    "discover_connectors",
    "load_connector",
    "translate_http_errors",
]
