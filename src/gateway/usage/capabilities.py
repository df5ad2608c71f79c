"""The capabilities usage is counted for, and which route belongs to which."""

from __future__ import annotations

import enum
import functools


class Capability(enum.StrEnum):
    """One family of the API, named by its path under ``/v1``."""

    CATALOG = "catalog"
    ORDERS = "orders"
    DOCUMENTS = "documents"
    CLAIMS = "claims"
    REPORTS = "reports"
    WEBHOOKS = "webhooks"
    EVENTS = "events"


#: Every capability, in the order reports list them.
CAPABILITIES: tuple[Capability, ...] = tuple(Capability)

_BY_PREFIX = {f"/v1/{capability.value}": capability for capability in Capability}


@functools.lru_cache(maxsize=1024)
def capability_of(route_template: str | None) -> Capability | None:
    """The capability a matched route serves, from its path template.

    The template (``/v1/orders/{order_id}``), not the request's raw path, so
    that an id that happens to read like a prefix cannot move a request to
    another capability and the cache stays as small as the route table.
    Routes outside the seven families (``/v1/me``, the probes, the admin
    views) serve none. Every Portico router declares its full prefix, so a
    route's template is its whole path.
    """
    if route_template is None:
        return None
    family = "/".join(route_template.split("/", 3)[:3])
    return _BY_PREFIX.get(family)
