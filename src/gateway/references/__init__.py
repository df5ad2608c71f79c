"""External references: Portico's answer to one customer recorded differently
in each system."""

from gateway.references.repository import EntityKind, ReferenceRepository

__all__ = ["EntityKind", "ReferenceRepository"]
