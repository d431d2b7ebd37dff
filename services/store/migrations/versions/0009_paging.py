"""paging: on-call overrides and their audit, and how an incident was acknowledged

Revision ID: 0009_paging
Revises: 0008_outbox_queue_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_paging"
down_revision = "0008_outbox_queue_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("person", sa.String(300), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_oncall_overrides_schedule_ends", "oncall_overrides", ["schedule", "ends_at"])
    op.create_table(
        "oncall_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.JSON(), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
    )
    op.create_index("ix_oncall_audit_schedule", "oncall_audit", ["schedule", "id"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("acknowledged_via", sa.String(20), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("acknowledged_via")
    op.drop_index("ix_oncall_audit_schedule", table_name="oncall_audit")
    op.drop_table("oncall_audit")
    op.drop_index("ix_oncall_overrides_schedule_ends", table_name="oncall_overrides")
    op.drop_table("oncall_overrides")
