"""What an API key may do.

Scopes are ``family:action``. Each family of resources has ``read`` and
``write``; a few actions that a partner grants separately (approving orders,
seeing every account's reports) have their own scope. ``admin`` manages the
account's own keys and settings.
"""

from __future__ import annotations

import enum

from domain.errors import InvalidInputError


class Scope(enum.StrEnum):
    CATALOG_READ = "catalog:read"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    ORDERS_APPROVE = "orders:approve"
    DOCUMENTS_READ = "documents:read"
    CLAIMS_READ = "claims:read"
    CLAIMS_WRITE = "claims:write"
    EVENTS_READ = "events:read"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    REPORTS_READ = "reports:read"
    REPORTS_ALL = "reports:all"
    ADMIN = "admin"


#: What a dealer's own integration usually gets: everything about its account,
#: nothing about other accounts.
DEALER_SCOPES: frozenset[Scope] = frozenset(Scope) - {Scope.REPORTS_ALL}


def parse_scopes(values: list[str]) -> frozenset[Scope]:
    """Parse scope names, refusing unknown ones with the list of known ones."""
    known = {scope.value for scope in Scope}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInputError(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            field="scope",
        )
    return frozenset(Scope(value) for value in values)
