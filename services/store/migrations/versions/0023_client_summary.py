"""review_client_summaries: the customer-facing summary the report owner approves before the
client's contacts get it (they no longer get the internal report)

Revision ID: 0023_client_summary
Revises: 0022_status_links
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_client_summary"
down_revision = "0022_status_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_client_summaries",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("happened", sa.Text(), nullable=False),
        sa.Column("impact_window", sa.Text(), nullable=False),
        sa.Column("done", sa.Text(), nullable=False),
        sa.Column("prevention", sa.Text(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_by", sa.JSON(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("review_client_summaries")
