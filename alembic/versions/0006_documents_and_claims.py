"""Documents index, claims with their lines, timeline, comments, attachments
and ERP tasks, and the PostgreSQL attachment store

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 19:27:49.917619
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment_chunks",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", "seq", name=op.f("pk_attachment_chunks")),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("erp_system", sa.Text(), nullable=True),
        sa.Column("erp_number", sa.Text(), nullable=True),
        sa.Column("first_answer_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'in_review', 'awaiting_customer', 'approved', "
            "'rejected', 'resolved', 'closed', 'withdrawn')",
            name=op.f("ck_claims_status"),
        ),
        sa.CheckConstraint(
            "type IN ('complaint', 'return', 'warranty')", name=op.f("ck_claims_type")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_claims_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_claims_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    op.create_index(
        "ix_claims_account_created",
        "claims",
        ["account_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_claims_account_status", "claims", ["account_id", "status"], unique=False
    )
    op.create_index("ix_claims_order", "claims", ["order_id"], unique=False)
    op.create_table(
        "documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("currency", sa.CHAR(length=3), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("source_system", sa.Text(), nullable=False),
        sa.Column("external_ref", sa.Text(), nullable=False),
        sa.Column("source_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'issued', 'paid', 'cancelled')",
            name=op.f("ck_documents_status"),
        ),
        sa.CheckConstraint(
            "type IN ('invoice', 'credit_note', 'delivery_note', 'quote')",
            name=op.f("ck_documents_type"),
        ),
        sa.CheckConstraint(
            "(amount IS NULL) = (currency IS NULL)",
            name=op.f("ck_documents_amount_has_currency"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_documents_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_documents_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint(
            "source_system",
            "external_ref",
            name=op.f("uq_documents_source_system_external_ref"),
        ),
    )
    op.create_index(
        "ix_documents_account_issued",
        "documents",
        ["account_id", "issue_date", "id"],
        unique=False,
    )
    op.create_index(
        "ix_documents_account_order",
        "documents",
        ["account_id", "order_id"],
        unique=False,
    )
    op.create_index(
        "ix_documents_account_type", "documents", ["account_id", "type"], unique=False
    )
    op.create_table(
        "claim_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_attachments_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_attachments")),
        sa.UniqueConstraint(
            "storage_key", name=op.f("uq_claim_attachments_storage_key")
        ),
    )
    op.create_index(
        "ix_claim_attachments_claim",
        "claim_attachments",
        ["claim_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "claim_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "side IN ('account', 'supplier')", name=op.f("ck_claim_comments_side")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_comments_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_comments")),
        sa.UniqueConstraint(
            "claim_id",
            "external_ref",
            name=op.f("uq_claim_comments_claim_id_external_ref"),
        ),
    )
    op.create_index(
        "ix_claim_comments_claim",
        "claim_comments",
        ["claim_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "claim_lines",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("order_line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_claim_lines_quantity")),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_lines_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("claim_id", "line_no", name=op.f("pk_claim_lines")),
    )
    op.create_table(
        "claim_timeline",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_timeline_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_timeline")),
    )
    op.create_index(
        "ix_claim_timeline_claim", "claim_timeline", ["claim_id", "id"], unique=False
    )
    op.create_table(
        "claim_erp_tasks",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("comment_id", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('submit', 'message', 'resume', 'withdraw')",
            name=op.f("ck_claim_erp_tasks_action"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_erp_tasks_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["claim_comments.id"],
            name=op.f("fk_claim_erp_tasks_comment_id_claim_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_erp_tasks")),
    )
    op.create_index(
        "ix_claim_erp_tasks_claim", "claim_erp_tasks", ["claim_id", "id"], unique=False
    )
    op.create_index(
        "ix_claim_erp_tasks_due", "claim_erp_tasks", ["next_attempt_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_claim_erp_tasks_due", table_name="claim_erp_tasks")
    op.drop_index("ix_claim_erp_tasks_claim", table_name="claim_erp_tasks")
    op.drop_table("claim_erp_tasks")
    op.drop_index("ix_claim_timeline_claim", table_name="claim_timeline")
    op.drop_table("claim_timeline")
    op.drop_table("claim_lines")
    op.drop_index("ix_claim_comments_claim", table_name="claim_comments")
    op.drop_table("claim_comments")
    op.drop_index("ix_claim_attachments_claim", table_name="claim_attachments")
    op.drop_table("claim_attachments")
    op.drop_index("ix_documents_account_type", table_name="documents")
    op.drop_index("ix_documents_account_order", table_name="documents")
    op.drop_index("ix_documents_account_issued", table_name="documents")
    op.drop_table("documents")
    op.drop_index("ix_claims_order", table_name="claims")
    op.drop_index("ix_claims_account_status", table_name="claims")
    op.drop_index("ix_claims_account_created", table_name="claims")
    op.drop_table("claims")
    op.drop_table("attachment_chunks")
