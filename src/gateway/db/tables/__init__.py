"""Table definitions. Alembic migrations own the schema; these mirror it."""

from gateway.db.tables.accounts import AccountRow, ApiKeyRow
from gateway.db.tables.base import Base

__all__ = ["AccountRow", "ApiKeyRow", "Base"]
