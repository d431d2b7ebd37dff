"""post-incident report, follow-up actions and their reminders

Revision ID: 0005_review
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_review"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_reports",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("owner_name", sa.String(300), nullable=False),
        sa.Column("owner_role", sa.String(100), nullable=False),
        sa.Column("owner_email", sa.String(300), nullable=False),
        sa.Column("owner_aad", sa.String(100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("lessons", sa.Text(), nullable=False),
        sa.Column("impact_narrative", sa.Text(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.JSON(), nullable=True),
        sa.Column("review_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_held_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "review_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("owner_aad", sa.String(100), nullable=False),
        sa.Column("owner_name", sa.String(300), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.JSON(), nullable=True),
    )
    op.create_index("ix_review_actions_incident_id", "review_actions", ["incident_id"])
    op.create_table(
        "review_timers",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_timers_due", "review_timers", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_review_timers_due", table_name="review_timers")
    op.drop_table("review_timers")
    op.drop_index("ix_review_actions_incident_id", table_name="review_actions")
    op.drop_table("review_actions")
    op.drop_table("review_reports")
