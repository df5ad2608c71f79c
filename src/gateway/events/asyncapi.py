"""The AsyncAPI 3.0 document of Portico's events, built from the event catalog.

``openapi/asyncapi.yaml`` is this document, committed next to the REST
contract; a test fails when the two differ, so an event type cannot be added
or changed without its documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.events.catalog import EVENT_TYPES

DESCRIPTION = """\
Every change Portico commits is an event: a CloudEvent 1.0 whose `data` is the
entity's new state. The same event reaches every channel:

- Kafka, in binary content mode (`ce_` headers, JSON value), on the topic
  `<prefix><family>` (prefix `portico.` by default), keyed by the entity id so
  one entity's events stay in one partition, in commit order;
- the changes feed `GET /v1/events?after=` and the live stream
  `GET /v1/events/stream` (Server-Sent Events), as JSON CloudEvents;
- webhooks, as the JSON CloudEvent body of a Standard Webhooks request.

Delivery is at least once; `id` is unique per event, so consumers drop
duplicates by it. `sequence` is the event's commit-order position.
"""


def _envelope(name: str, data_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid"},
            "source": {"const": "/portico"},
            "type": {"const": name},
            "subject": {"type": "string", "description": "The entity's id."},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "sequence": {"type": "string", "description": "Commit-order position."},
            "correlationid": {"type": "string"},
            "data": {"$ref": data_ref},
        },
    }


def build_asyncapi() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, spec in sorted(EVENT_TYPES.items()):
        data_schema = spec.data.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        for nested_name, nested in data_schema.pop("$defs", {}).items():
            schemas[nested_name] = nested
        schemas[spec.data.__name__] = data_schema
        message_id = name.replace(".", "_")
        messages[message_id] = {
            "name": name,
            "title": name,
            "summary": spec.summary,
            "contentType": "application/cloudevents+json",
            "payload": _envelope(name, f"#/components/schemas/{spec.data.__name__}"),
        }
        channel = channels.setdefault(
            spec.family,
            {
                "address": f"portico.{spec.family}",
                "description": f"The {spec.family} family's events.",
                "messages": {},
            },
        )
        channel["messages"][message_id] = {
            "$ref": f"#/components/messages/{message_id}"
        }
    for family in channels:
        operations[f"receive_{family}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{family}"},
            "summary": f"Consume the {family} family's events.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Portico events",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def asyncapi_path() -> Path:
    return Path(__file__).resolve().parents[3] / "openapi" / "asyncapi.yaml"
