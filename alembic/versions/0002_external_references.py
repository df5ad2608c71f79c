"""External references.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_refs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity_kind", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_refs")),
        sa.UniqueConstraint(
            "entity_kind",
            "system",
            "external_id",
            name=op.f("uq_external_refs_entity_kind_system_external_id"),
        ),
        sa.UniqueConstraint(
            "entity_kind",
            "entity_id",
            "system",
            name=op.f("uq_external_refs_entity_kind_entity_id_system"),
        ),
    )


def downgrade() -> None:
    op.drop_table("external_refs")
