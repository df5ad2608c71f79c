"""Finding connector classes through the ``portico.connectors`` entry points.

A third party ships a connector as a package that declares, for example::

    [project.entry-points."portico.connectors"]
    acme-erp = "acme_portico:AcmeConnector"
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from connectors.runtime.connector import Connector

GROUP = "portico.connectors"


class ConnectorConfigError(Exception):
    """A connector that cannot be built from its configuration."""


def discover_connectors() -> dict[str, type[Connector]]:
    """Every installed connector class by its entry-point name."""
    found: dict[str, type[Connector]] = {}
    for entry in entry_points(group=GROUP):
        loaded = entry.load()
        if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
            raise ConnectorConfigError(
                f"entry point {entry.name!r} does not name a Connector class"
            )
        found[entry.name] = loaded
    return found


def load_connector(name: str, kind: str, options: dict[str, Any]) -> Connector:
    """Build the connector instance ``name`` of kind ``kind`` from ``options``."""
    available = discover_connectors()
    if kind not in available:
        known = ", ".join(sorted(available)) or "none installed"
        raise ConnectorConfigError(
            f"connector {name!r}: unknown kind {kind!r} (known: {known})"
        )
    connector_class = available[kind]
    try:
        config = connector_class.config_model.model_validate(options)
    except ValidationError as error:
        fields = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False)
        )
        raise ConnectorConfigError(f"connector {name!r}: {fields}") from None
    return connector_class(name, config)
