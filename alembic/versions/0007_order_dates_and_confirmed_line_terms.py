"""Orders carry the customer's order date; lines carry the ERP's confirmed
net unit price and tax rate

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("order_date", sa.Date(), nullable=True))
    # Orders placed before this revision were dated the day they were placed,
    # in their account's calendar.
    op.execute(
        "UPDATE orders "
        "SET order_date = (orders.created_at AT TIME ZONE a.timezone)::date "
        "FROM accounts a WHERE a.id = orders.account_id"
    )
    op.alter_column("orders", "order_date", nullable=False)
    op.create_index(
        "ix_orders_account_order_date", "orders", ["account_id", "order_date"]
    )
    op.add_column(
        "order_lines", sa.Column("net_unit_price", sa.Numeric(20, 4), nullable=True)
    )
    op.add_column(
        "order_lines",
        sa.Column("tax_rate", sa.Numeric(9, 6), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("order_lines", "tax_rate")
    op.drop_column("order_lines", "net_unit_price")
    op.drop_index("ix_orders_account_order_date", table_name="orders")
    op.drop_column("orders", "order_date")
