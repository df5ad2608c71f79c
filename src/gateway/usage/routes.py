"""The supplier's view of which capabilities the accounts use."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from domain.accounts.scopes import Scope
from domain.errors import InvalidInputError
from gateway.accounts.service import Principal
from gateway.api.cursors import MAX_CURSOR_LENGTH
from gateway.api.dependencies import Cursors, DbSession, require
from gateway.api.problems import problem_responses
from gateway.api.routing import PorticoRoute
from gateway.usage.capabilities import CAPABILITIES
from gateway.usage.flusher import UsageFlusher
from gateway.usage.repository import UsageRepository
from gateway.usage.schemas import UsageReport, account_usage, unused_overall

router = APIRouter(prefix="/v1/admin", route_class=PorticoRoute, tags=["admin"])

#: Across accounts, so only the supplier-side scope; see the route description.
SupplierReader = Annotated[Principal, Depends(require(Scope.REPORTS_ALL))]

PAGE_LIMIT = 100
LISTING = "usage:accounts"

USAGE_DESCRIPTION = """\
How often, and when first and last, each account used each capability
(catalog, orders, documents, claims, reports, webhooks, events), and which
capabilities no account uses, so a supplier can see what its portal could
simplify.

A request counts when its API key was accepted and it reached one of the
capability's routes, whatever the answer (its 4xx and 5xx answers are counted
beside it); requests refused for want of a valid key are not counted. Each
replica writes its counts every few seconds, and this replica writes its own
before it answers; another replica's latest few seconds may still be on their
way.

The report spans every account, so it needs the supplier-side `reports:all`
scope. An account's `admin` scope does not grant it: `admin` manages one
account's own keys and settings and must never reveal other accounts.
"""


def get_flusher(request: Request) -> UsageFlusher:
    flusher: UsageFlusher = request.app.state.usage_flusher
    return flusher


def _position(position: list[Any]) -> tuple[str, uuid.UUID]:
    try:
        name, account_id = position
        if not isinstance(name, str):
            raise TypeError(name)
        return name, uuid.UUID(account_id)
    except (ValueError, TypeError, AttributeError):
        raise InvalidInputError(
            "the cursor is not valid for this listing; start again without one",
            field="cursor",
        ) from None


@router.get(
    "/usage",
    summary="Which capabilities each account uses",
    description=USAGE_DESCRIPTION,
    responses=problem_responses(401, 403, 422),
)
async def read_usage(
    principal: SupplierReader,
    session: DbSession,
    cursors: Cursors,
    flusher: Annotated[UsageFlusher, Depends(get_flusher)],
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> UsageReport:
    # A cursor is bound to the key's account, like every other listing's, so
    # that it cannot be handed on to another supplier-side caller.
    owner = principal.account.id
    after = (
        None if cursor is None else _position(cursors.decode(cursor, LISTING, owner))
    )
    # A failed flush is logged and retried later; the report still answers.
    await flusher.flush()

    usage = UsageRepository(session)
    used = await usage.used_capabilities()
    accounts, next_position = await usage.accounts_page(after, limit)
    counters = await usage.counters([account.id for account in accounts])
    return UsageReport(
        capabilities=list(CAPABILITIES),
        unused=unused_overall(used),
        accounts=[account_usage(account, counters[account.id]) for account in accounts],
        next_cursor=None
        if next_position is None
        else cursors.encode(LISTING, owner, [next_position[0], str(next_position[1])]),
    )
