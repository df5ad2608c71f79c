"""Events as CloudEvents 1.0, the one shape every channel carries.

The changes feed and the live stream send the JSON (structured) form; the
Kafka relay sends the binary form with ``ce_`` headers; webhooks send the
JSON form as their body. ``sequence`` is the event's commit-order position.
"""

from __future__ import annotations

from typing import Any

from gateway.db.tables import OutboxRow

SPEC_VERSION = "1.0"
SOURCE = "/portico"


def cloudevent(row: OutboxRow) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": str(row.event_id),
        "source": SOURCE,
        "type": row.type,
        "subject": row.subject,
        "time": row.occurred_at.isoformat(),
        "datacontenttype": "application/json",
        "sequence": str(row.position) if row.position is not None else None,
        "data": row.data,
    }
    if row.correlation_id:
        envelope["correlationid"] = row.correlation_id
    return envelope
