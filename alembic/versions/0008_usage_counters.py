"""Usage counters per account and capability

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("capability", sa.Text(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("client_errors", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("server_errors", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "capability IN ('catalog', 'orders', 'documents', 'claims', "
            "'reports', 'webhooks', 'events')",
            name=op.f("ck_usage_counters_capability"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_counters_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "capability", name=op.f("pk_usage_counters")
        ),
    )
    op.create_index(
        "ix_usage_counters_capability", "usage_counters", ["capability"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_usage_counters_capability", table_name="usage_counters")
    op.drop_table("usage_counters")
