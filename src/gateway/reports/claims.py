"""Folding claims into the claims report's figures.

Whether a deadline was missed is the domain's rule (:class:`SlaClock`), not
re-derived here: a claim still open past its due time counts as a breach,
and one withdrawn before any answer stops its first-answer clock when it was
withdrawn. The means measure what the supplier did, from filing:

- time to first answer, over claims the supplier has answered (a comment,
  a question back, or a decision);
- time to resolution, over claims the supplier has settled. A withdrawn
  claim is left out of this mean: the customer ended it, not the supplier.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.claims.model import ClaimType
from domain.claims.status import ClaimStatus
from gateway.reports.repository import ClaimFacts


@dataclass(slots=True)
class ClockTally:
    """One SLA clock (first answer or resolution) over a set of claims."""

    measured: int = 0
    elapsed: timedelta = timedelta(0)
    breached: int = 0

    @property
    def mean_seconds(self) -> float | None:
        """Mean time from filing, in seconds; None when nothing was measured."""
        if not self.measured:
            return None
        # timedelta sums whole microseconds, so only the division rounds.
        return round((self.elapsed / self.measured).total_seconds(), 3)

    def measure(self, started: datetime, ended: datetime | None) -> None:
        if ended is not None:
            self.measured += 1
            self.elapsed += ended - started

    def merge(self, other: ClockTally) -> ClockTally:
        return ClockTally(
            measured=self.measured + other.measured,
            elapsed=self.elapsed + other.elapsed,
            breached=self.breached + other.breached,
        )


@dataclass(slots=True)
class ClaimTally:
    """Counts and SLA clocks over a set of claims."""

    claims: int = 0
    first_answer: ClockTally = field(default_factory=ClockTally)
    resolution: ClockTally = field(default_factory=ClockTally)

    def add(self, claim: ClaimFacts, now: datetime) -> None:
        sla = claim.sla
        self.claims += 1
        self.first_answer.measure(claim.created_at, sla.first_answered_at)
        if claim.status is not ClaimStatus.WITHDRAWN:
            self.resolution.measure(claim.created_at, sla.settled_at)
        self.first_answer.breached += int(sla.first_answer_breached(now))
        self.resolution.breached += int(sla.resolution_breached(now))

    def merge(self, other: ClaimTally) -> ClaimTally:
        return ClaimTally(
            claims=self.claims + other.claims,
            first_answer=self.first_answer.merge(other.first_answer),
            resolution=self.resolution.merge(other.resolution),
        )


@dataclass(frozen=True, slots=True)
class ClaimFigures:
    """Tallies per (type, status) cell, and the roll-ups a report shows."""

    cells: dict[tuple[ClaimType, ClaimStatus], ClaimTally]

    def by_type(self) -> dict[ClaimType, ClaimTally]:
        """Every claim type, in the domain's order, with zeros where none."""
        rolled = {claim_type: ClaimTally() for claim_type in ClaimType}
        for (claim_type, _status), cell in self.cells.items():
            rolled[claim_type] = rolled[claim_type].merge(cell)
        return rolled

    def by_status(self) -> dict[ClaimStatus, ClaimTally]:
        """Every claim status, in the domain's order, with zeros where none."""
        rolled = {status: ClaimTally() for status in ClaimStatus}
        for (_type, status), cell in self.cells.items():
            rolled[status] = rolled[status].merge(cell)
        return rolled

    def total(self) -> ClaimTally:
        rolled = ClaimTally()
        for cell in self.cells.values():
            rolled = rolled.merge(cell)
        return rolled


async def tally_claims(
    claims: AsyncIterable[ClaimFacts], now: datetime
) -> ClaimFigures:
    """Fold ``claims`` into cells, judging open deadlines as of ``now``."""
    cells: defaultdict[tuple[ClaimType, ClaimStatus], ClaimTally] = defaultdict(
        ClaimTally
    )
    async for claim in claims:
        cells[(claim.type, claim.status)].add(claim, now)
    # Cells in the domain's order of types, then of statuses.
    ordered = {
        (claim_type, status): cells[(claim_type, status)]
        for claim_type in ClaimType
        for status in ClaimStatus
        if (claim_type, status) in cells
    }
    return ClaimFigures(cells=ordered)
