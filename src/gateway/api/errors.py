"""Errors raised by the HTTP layer itself (auth, media types), as problems."""

from __future__ import annotations

from gateway.api.problems import ProblemType


class ApiError(Exception):
    """An error that becomes exactly one problem response."""

    def __init__(
        self,
        problem: ProblemType,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail
        self.headers = headers
