"""Whose data a report covers: the caller's own account, one named account,
or every account.

The caller's own account comes from the credential alone. Any other account,
and all of them, is the supplier's view and needs ``reports:all``; without
it the answer is 403 whether or not the named account exists, so the check
reveals nothing about other tenants.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.scopes import Scope
from domain.errors import InvalidInputError, NotFoundError
from gateway.accounts.repository import AccountRepository
from gateway.accounts.service import Principal
from gateway.api.errors import ApiError
from gateway.api.problems import FORBIDDEN
from gateway.logs import get_logger

log = get_logger(__name__)

OWN_ACCOUNT: Final = "me"
EVERY_ACCOUNT: Final = "all"


@dataclass(frozen=True, slots=True)
class ReportScope:
    """The accounts a report reads; ``account_id`` None means every account."""

    account_id: uuid.UUID | None

    @property
    def label(self) -> str:
        """How the report names its scope: an account id, or ``all``."""
        return EVERY_ACCOUNT if self.account_id is None else str(self.account_id)


async def resolve_scope(
    session: AsyncSession, principal: Principal, account: str, report: str
) -> ReportScope:
    """The scope ``account`` (``me``, ``all`` or an account id) names.

    Raises InvalidInputError for anything else, ApiError(403) for another
    account or ``all`` without ``reports:all``, and NotFoundError for an id
    no account has.
    """
    own = principal.account.id
    if account == OWN_ACCOUNT:
        return ReportScope(own)
    if account == EVERY_ACCOUNT:
        _require_cross_account(principal)
        _audit(report, EVERY_ACCOUNT)
        return ReportScope(None)
    try:
        named = uuid.UUID(account)
    except ValueError:
        raise InvalidInputError(
            "account is 'me', 'all' or an account id (a UUID)", field="account"
        ) from None
    if named == own:
        return ReportScope(own)
    _require_cross_account(principal)
    if await AccountRepository(session).get(named) is None:
        raise NotFoundError("account", named)
    _audit(report, str(named))
    return ReportScope(named)


def _require_cross_account(principal: Principal) -> None:
    if not principal.allows(Scope.REPORTS_ALL):
        raise ApiError(
            FORBIDDEN,
            "reports on other accounts need the 'reports:all' scope; "
            "use account=me for your own",
        )


def _audit(report: str, scope: str) -> None:
    # A supplier-side read across tenants: worth a line in the audit trail.
    log.info("report.cross_account", report=report, scope=scope)
