"""Event positions (commit order), publication marks and processed events.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 19:03:53.736721
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Positions are handed out by the sequencer only, in commit order.
    op.execute(sa.schema.CreateSequence(sa.Sequence("outbox_position_seq")))
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "consumer", "event_id", name=op.f("pk_processed_events")
        ),
    )
    op.add_column("outbox", sa.Column("position", sa.BigInteger(), nullable=True))
    op.add_column(
        "outbox", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.drop_index(op.f("ix_outbox_account"), table_name="outbox")
    op.create_index(
        "ix_outbox_account_position", "outbox", ["account_id", "position"], unique=False
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["position"],
        unique=False,
        postgresql_where="position IS NOT NULL AND published_at IS NULL",
    )
    op.create_index(
        "ix_outbox_unsequenced",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where="position IS NULL",
    )
    op.create_unique_constraint(op.f("uq_outbox_position"), "outbox", ["position"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_outbox_position"), "outbox", type_="unique")
    op.drop_index(
        "ix_outbox_unsequenced",
        table_name="outbox",
        postgresql_where="position IS NULL",
    )
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        postgresql_where="position IS NOT NULL AND published_at IS NULL",
    )
    op.drop_index("ix_outbox_account_position", table_name="outbox")
    op.create_index(
        op.f("ix_outbox_account"), "outbox", ["account_id", "id"], unique=False
    )
    op.drop_column("outbox", "published_at")
    op.drop_column("outbox", "position")
    op.drop_table("processed_events")
    op.execute(sa.schema.DropSequence(sa.Sequence("outbox_position_seq")))
