"""dedicated channels: the channel Beacon made for an incident, and each team's Graph id and channel count

Revision ID: 0028_dedicated_channels
Revises: 0025_status_subscriptions
"""

import sqlalchemy as sa
from alembic import op

revision = "0028_dedicated_channels"
down_revision = "0025_status_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_channels",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("team_id", sa.String(300), nullable=False),
        sa.Column("group_id", sa.String(100), nullable=False),
        sa.Column("channel_id", sa.String(300), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("web_url", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "team_groups",
        sa.Column("team_id", sa.String(300), primary_key=True),
        sa.Column("group_id", sa.String(100), nullable=False),
        sa.Column("channels_in_use", sa.Integer(), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("team_groups")
    op.drop_table("incident_channels")
