"""The domain's error tree.

Domain errors say what went wrong in business terms. They know nothing about
HTTP: the gateway maps each class to a problem type and a status code in one
table, so a new error class is a new row there, not a new ``if`` anywhere else.

    DomainError
    ├── NotFoundError        the entity does not exist for this account
    ├── InvalidInputError    the input breaks a business rule (names the field)
    └── ConflictError        the entity's current state forbids the action
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error a domain rule raises."""

    code = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    """The entity does not exist, or belongs to another account.

    Both cases read the same so that an id never reveals whether another
    account owns it.
    """

    code = "not_found"

    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(f"{entity} {entity_id} was not found")
        self.entity = entity
        self.entity_id = entity_id


class InvalidInputError(DomainError):
    """The input is well-formed but breaks a business rule."""

    code = "invalid_input"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class ConflictError(DomainError):
    """The entity's current state does not allow the requested action."""

    code = "conflict"
