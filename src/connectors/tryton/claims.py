"""Portico's claims as Tryton complaints (``sale.complaint``).

:class:`TrytonClaims` does the Tryton side of
:class:`~domain.ports.ErpClaimsPort`. It raises Tryton's own exceptions for
failed calls, which the connector translates, and backend errors for
refusals Portico should show. Deadlines and retries are the connector's.

How a claim becomes a complaint:

- ``origin`` is the claim's sale (``sale.sale,ID``), ``customer`` the
  party, ``reference`` Portico's claim id, ``type`` the configured
  ``sale.complaint.type`` (else the first active type whose origin is a
  sale). The description carries the claim's type, text and lines. A
  return claim also gets a ``sale_return`` action for the claimed sale
  lines and quantities, which Tryton carries out once staff approve it.
- The complaint is created and put up for review (``wait``). Tryton warns
  when another complaint exists on the same sale; a claim is its own case,
  so the warning is acknowledged for this complaint and the call repeated.
- A complaint left in draft by an interrupted submission is taken up by
  the next :meth:`TrytonClaims.submit` instead of a second one being made.

How Tryton's states become :class:`~domain.claims.erp.ErpClaimState`:
``waiting`` -> IN_REVIEW, ``draft`` -> RETURNED (staff sent it back; Portico
never leaves a complaint in draft), ``approved`` -> APPROVED, ``rejected``
-> REJECTED, ``done`` -> RESOLVED (approving runs the actions at once when
Tryton has no queue worker, so a complaint often goes straight from
``waiting`` to ``done``), ``cancelled`` -> CANCELLED.

Messages: a complaint's chat channel carries the conversation. Public
messages staff write there are the supplier's comments; the customer's
comments are posted there by Portico, marked with :data:`PORTICO_MARK` so
that the change feed does not report them back as the supplier's.

Changes come from two streams: complaints ordered by ``last_modified_at``
and id (resumed like the order feed, with its known limit), and public chat
messages on complaints in id order (messages are never edited).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from connectors.tryton.orders import Position
from connectors.tryton.rpc import TrytonRpc, TrytonUserError, TrytonUserWarning
from domain.backends import BackendNotFoundError, BackendRejectedError
from domain.claims.erp import (
    ErpClaimChange,
    ErpClaimChangePage,
    ErpClaimMessage,
    ErpClaimReceipt,
    ErpClaimRequest,
    ErpClaimState,
)
from domain.claims.model import ClaimLine, ClaimType

__all__ = ["PORTICO_MARK", "ClaimCursor", "TrytonClaims", "claim_state"]

logger = logging.getLogger(__name__)

COMPLAINT: Final = "sale.complaint"
MESSAGE: Final = "ir.chat.message"
#: Starts every message Portico posts on the customer's behalf.
PORTICO_MARK: Final = "[Portico]"
_STATES: Final = {
    "draft": ErpClaimState.RETURNED,
    "waiting": ErpClaimState.IN_REVIEW,
    "approved": ErpClaimState.APPROVED,
    "rejected": ErpClaimState.REJECTED,
    "done": ErpClaimState.RESOLVED,
    "cancelled": ErpClaimState.CANCELLED,
}
_COMPLAINT_FIELDS: Final = ["number", "reference", "state", "last_modified_at"]
_ORDER: Final = [["last_modified_at", "ASC"], ["id", "ASC"]]
_CURSOR_VERSION: Final = "c1"
_NO_POSITION: Final = "-"
_MAX_REASON: Final = 500


def claim_state(state: str) -> ErpClaimState:
    """Portico's word for a complaint state."""
    return _STATES[state]


@dataclass(frozen=True, slots=True)
class ClaimCursor:
    """Where :meth:`TrytonClaims.changes` left off.

    Encoded as ``c1;COMPLAINTS;LAST_MESSAGE_ID``.
    """

    complaints: Position | None = None
    last_message: int = 0

    def encode(self) -> str:
        complaints = self.complaints.encode() if self.complaints else _NO_POSITION
        return f"{_CURSOR_VERSION};{complaints};{self.last_message}"

    @classmethod
    def decode(cls, text: str | None) -> ClaimCursor:
        """Parse an encoded cursor; None is the start of both streams.

        Raises:
            ValueError: ``text`` is not a cursor this module wrote.
        """
        if text is None:
            return cls()
        parts = text.split(";")
        if len(parts) != 3 or parts[0] != _CURSOR_VERSION or not parts[2].isdigit():
            raise ValueError("not a Tryton claim cursor")
        return cls(Position.decode(parts[1]), int(parts[2]))


class TrytonClaims:
    """Complaints over one JSON-RPC session.

    ``complaint_type`` is the ``sale.complaint.type`` id claims are filed
    under; None picks the first active type whose origin is a sale.
    """

    def __init__(self, rpc: TrytonRpc, system: str, complaint_type: int | None) -> None:
        self._rpc = rpc
        self._system = system
        self._complaint_type = complaint_type

    async def delivered(self, order_external_id: str) -> dict[str, Decimal]:
        """Quantity per SKU that reached the customer, returns deducted."""
        sale_id = _record_id(self._system, "delivered_quantities", order_external_id)
        lines = await self._rpc.model(
            "sale.line",
            "search_read",
            [("sale", "=", sale_id), ("type", "=", "line")],
            0,
            None,
            [["id", "ASC"]],
            [
                "product.code",
                "moves.quantity",
                "moves.state",
                "moves.to_location.type",
                "moves.from_location.type",
            ],
        )
        delivered: dict[str, Decimal] = {}
        for line in lines:
            sku = (line.get("product.") or {}).get("code")
            if not sku:
                continue
            total = Decimal(0)
            for move in line.get("moves.") or []:
                if move.get("state") != "done":
                    continue
                quantity = Decimal(str(move["quantity"]))
                if (move.get("to_location.") or {}).get("type") == "customer":
                    total += quantity
                elif (move.get("from_location.") or {}).get("type") == "customer":
                    total -= quantity
            if total > 0:
                delivered[sku] = delivered.get(sku, Decimal(0)) + total
        return delivered

    async def find(self, claim_id: uuid.UUID) -> ErpClaimReceipt | None:
        """The complaint for ``claim_id`` once it is up for review (or later)."""
        for complaint in await self._by_reference(claim_id):
            if complaint["state"] != "draft":
                return _receipt(complaint)
        return None

    async def submit(self, request: ErpClaimRequest) -> ErpClaimReceipt:
        """Create the complaint for ``request`` and put it up for review.

        Raises:
            BackendRejectedError: unknown sale or customer, or Tryton refused
                the complaint (the detail is Tryton's reason).
            TrytonError: a call failed; the complaint may exist in draft, and
                the next :meth:`submit` takes it up.
        """
        existing = await self._by_reference(request.claim_id)
        for complaint in existing:
            if complaint["state"] != "draft":
                return _receipt(complaint)
        if existing:
            complaint_id = int(existing[0]["id"])
        else:
            values = await self._values(request)
            try:
                (complaint_id,) = await self._rpc.model(COMPLAINT, "create", [values])
            except TrytonUserError as error:
                raise self._rejected("submit_claim", error) from None
        try:
            await self._wait(complaint_id)
        except TrytonUserError as error:
            raise self._rejected("submit_claim", error) from None
        (complaint,) = await self._rpc.model(
            COMPLAINT, "read", [complaint_id], ["number", "state"]
        )
        return _receipt(complaint)

    async def post_message(self, external_id: str, author: str, body: str) -> str:
        """Post the customer's message on the complaint's public channel."""
        complaint_id = _record_id(self._system, "post_claim_message", external_id)
        message_id = await self._rpc.model(
            "ir.chat.channel",
            "post",
            f"{COMPLAINT},{complaint_id}",
            f"{PORTICO_MARK} {author}: {body}",
            "public",
        )
        return str(message_id)

    async def resume(self, external_id: str) -> None:
        """Put a complaint staff sent back up for review again."""
        complaint = await self._complaint(external_id, "resume_claim")
        if complaint["state"] == "draft":
            try:
                await self._wait(int(complaint["id"]))
            except TrytonUserError as error:
                raise self._rejected("resume_claim", error) from None

    async def withdraw(self, external_id: str) -> None:
        """Cancel the complaint; a cancelled one is left as it is.

        Raises:
            BackendRejectedError: staff already decided it.
        """
        complaint = await self._complaint(external_id, "withdraw_claim")
        state = complaint["state"]
        if state == "cancelled":
            return
        if state not in ("draft", "waiting"):
            raise BackendRejectedError(
                self._system,
                "withdraw_claim",
                f"complaint {complaint.get('number') or external_id} is {state}",
            )
        try:
            await self._rpc.model(COMPLAINT, "cancel", [int(complaint["id"])])
        except TrytonUserError as error:
            raise self._rejected("withdraw_claim", error) from None

    async def changes(self, cursor: str | None, limit: int) -> ErpClaimChangePage:
        """Up to ``limit`` complaint changes and ``limit`` messages after
        ``cursor``, each oldest first.

        Raises:
            BackendRejectedError: an unreadable cursor or a limit below 1.
        """
        if limit < 1:
            raise BackendRejectedError(
                self._system, "claim_changes", "limit must be at least 1"
            )
        try:
            start = ClaimCursor.decode(cursor)
        except ValueError:
            raise BackendRejectedError(
                self._system, "claim_changes", "unreadable cursor"
            ) from None
        domain: list[Any] = []
        if start.complaints is not None:
            domain.append(start.complaints.after())
        complaints = await self._rpc.model(
            COMPLAINT, "search_read", domain, 0, limit, _ORDER, _COMPLAINT_FIELDS
        )
        messages = await self._rpc.model(
            MESSAGE,
            "search_read",
            [
                ("id", ">", start.last_message),
                ("channel.resource", "like", f"{COMPLAINT},%"),
                ("audience", "=", "public"),
            ],
            0,
            limit,
            [["id", "ASC"]],
            ["content", "create_date", "channel.resource", "user.name", "email"],
        )
        position = start.complaints
        changes = []
        for row in complaints:
            position = Position(row["last_modified_at"], int(row["id"]))
            changes.append(_change(row))
        last_message = max([start.last_message, *(int(m["id"]) for m in messages)])
        return ErpClaimChangePage(
            changes=tuple(changes),
            messages=tuple(
                _message(row)
                for row in messages
                if not str(row.get("content") or "").startswith(PORTICO_MARK)
            ),
            cursor=ClaimCursor(position, last_message).encode(),
        )

    # Internals

    async def _by_reference(self, claim_id: uuid.UUID) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._rpc.model(
            COMPLAINT,
            "search_read",
            [("reference", "=", str(claim_id))],
            0,
            None,
            [["id", "ASC"]],
            ["number", "state"],
        )
        return rows

    async def _complaint(self, external_id: str, operation: str) -> dict[str, Any]:
        complaint_id = _record_id(self._system, operation, external_id)
        rows = await self._rpc.model(
            COMPLAINT,
            "search_read",
            [("id", "=", complaint_id)],
            0,
            1,
            None,
            ["number", "state"],
        )
        if not rows:
            raise BackendNotFoundError(
                self._system, operation, f"no complaint {external_id}"
            )
        row: dict[str, Any] = rows[0]
        return row

    async def _values(self, request: ErpClaimRequest) -> dict[str, Any]:
        sale_id = _record_id(self._system, "submit_claim", request.order_external_id)
        sales = await self._rpc.model(
            "sale.sale",
            "search_read",
            [("id", "=", sale_id)],
            0,
            1,
            None,
            ["party", "company"],
        )
        if not sales:
            raise BackendRejectedError(
                self._system, "submit_claim", f"no sale {request.order_external_id}"
            )
        sale = sales[0]
        if str(sale["party"]) != request.customer_ref:
            raise BackendRejectedError(
                self._system,
                "submit_claim",
                f"sale {sale_id} is not the customer's {request.customer_ref}",
            )
        values: dict[str, Any] = {
            "customer": int(sale["party"]),
            "company": int(sale["company"]),
            "type": await self._type(),
            "origin": f"sale.sale,{sale_id}",
            "reference": str(request.claim_id),
            "description": _description(request),
        }
        if request.type is ClaimType.RETURN:
            values["actions"] = [
                ["create", [await self._return_action(sale_id, request.lines)]]
            ]
        return values

    async def _return_action(
        self, sale_id: int, lines: Sequence[ClaimLine]
    ) -> dict[str, Any]:
        """A ``sale_return`` action for the claimed quantities of the sale."""
        sale_lines = await self._rpc.model(
            "sale.line",
            "search_read",
            [("sale", "=", sale_id), ("type", "=", "line")],
            0,
            None,
            [["id", "ASC"]],
            ["product.code"],
        )
        by_sku: dict[str, int] = {}
        for row in sale_lines:
            by_sku.setdefault((row.get("product.") or {}).get("code") or "", row["id"])
        returned = [
            {"line": by_sku[line.sku], "quantity": float(line.quantity)}
            for line in lines
            if line.sku in by_sku
        ]
        return {"action": "sale_return", "sale_lines": [["create", returned]]}

    async def _type(self) -> int:
        if self._complaint_type is None:
            found = await self._rpc.model(
                "sale.complaint.type",
                "search",
                [("origin.name", "=", "sale.sale")],
                0,
                1,
                [["id", "ASC"]],
            )
            if not found:
                raise BackendRejectedError(
                    self._system,
                    "submit_claim",
                    "Tryton has no complaint type for sales; create one",
                )
            self._complaint_type = int(found[0])
        return self._complaint_type

    async def _wait(self, complaint_id: int) -> None:
        """Press ``wait``, acknowledging Tryton's similar-complaint warning."""
        try:
            await self._rpc.model(COMPLAINT, "wait", [complaint_id])
        except TrytonUserWarning as warning:
            await self._rpc.context()  # logs in, so the user id is known
            await self._rpc.model(
                "res.user.warning",
                "create",
                [{"user": self._rpc.user_id, "name": warning.name, "always": False}],
            )
            logger.info(
                "Acknowledged Tryton warning for complaint %d: %s",
                complaint_id,
                warning.message,
            )
            await self._rpc.model(COMPLAINT, "wait", [complaint_id])

    def _rejected(self, operation: str, error: TrytonUserError) -> BackendRejectedError:
        text = str(error)
        if len(text) > _MAX_REASON:
            text = text[: _MAX_REASON - 1] + "…"
        return BackendRejectedError(self._system, operation, text)


def _record_id(system: str, operation: str, external_id: str) -> int:
    if not external_id.isdigit():
        raise BackendNotFoundError(
            system, operation, f"{external_id[:40]!r} is not a Tryton id"
        )
    return int(external_id)


def _receipt(complaint: Mapping[str, Any]) -> ErpClaimReceipt:
    return ErpClaimReceipt(
        external_id=str(complaint["id"]), number=complaint.get("number") or ""
    )


def _description(request: ErpClaimRequest) -> str:
    lines = [
        f"- line {line.order_line_no} {line.sku} x {line.quantity}: "
        f"{line.reason.value}" + (f" ({line.note})" if line.note else "")
        for line in request.lines
    ]
    return "\n".join(
        [
            f"{request.type.value.title()} filed through Portico "
            f"(claim {request.claim_id})",
            "",
            request.description,
            "",
            "Lines:",
            *lines,
        ]
    )


def _change(row: Mapping[str, Any]) -> ErpClaimChange:
    return ErpClaimChange(
        claim_id=_claim_id(row.get("reference")),
        external_id=str(row["id"]),
        number=row.get("number") or "",
        state=claim_state(str(row["state"])),
        changed_at=row["last_modified_at"].replace(tzinfo=dt.UTC),
    )


def _message(row: Mapping[str, Any]) -> ErpClaimMessage:
    resource = str((row.get("channel.") or {}).get("resource") or "")
    author = (row.get("user.") or {}).get("name") or row.get("email") or "Supplier"
    return ErpClaimMessage(
        external_id=resource.partition(",")[2],
        message_ref=str(row["id"]),
        author=str(author),
        body=str(row.get("content") or ""),
        written_at=row["create_date"].replace(tzinfo=dt.UTC),
    )


def _claim_id(reference: Any) -> uuid.UUID | None:
    if not isinstance(reference, str):
        return None
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None
