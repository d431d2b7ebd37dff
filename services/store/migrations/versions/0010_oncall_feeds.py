"""oncall feeds: the last good copy of each schedule's iCalendar feed and its health

Revision ID: 0010_oncall_feeds
Revises: 0011_paging_metrics
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_oncall_feeds"
down_revision = "0011_paging_metrics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_feeds",
        sa.Column("schedule", sa.String(200), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("etag", sa.String(300), nullable=False, server_default=""),
        sa.Column("last_modified", sa.String(100), nullable=False, server_default=""),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("oncall_feeds")
