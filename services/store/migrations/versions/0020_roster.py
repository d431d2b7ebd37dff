"""teams: the channels Beacon knows in each team, and each team's roster (who is a member or guest)

Revision ID: 0020_roster
Revises: 0018_tenant
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_roster"
down_revision = "0018_tenant"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_channels",
        sa.Column("channel_id", sa.String(300), primary_key=True),
        sa.Column("team_id", sa.String(300), nullable=False),
        sa.Column("name", sa.String(300), nullable=False, server_default=""),
        sa.Column("team_name", sa.String(300), nullable=False, server_default=""),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_team_channels_team", "team_channels", ["team_id"])
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(300), primary_key=True),
        sa.Column("aad_object_id", sa.String(100), primary_key=True),
        sa.Column("user_id", sa.String(300), nullable=False, server_default=""),
        sa.Column("name", sa.String(300), nullable=False, server_default=""),
        sa.Column("email", sa.String(300), nullable=False, server_default=""),
        sa.Column("user_role", sa.String(30), nullable=False, server_default=""),
        sa.Column("tenant_id", sa.String(100), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_team_members_person", "team_members", ["aad_object_id"])
    op.create_index("ix_team_members_user", "team_members", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_team_members_user", table_name="team_members")
    op.drop_index("ix_team_members_person", table_name="team_members")
    op.drop_table("team_members")
    op.drop_index("ix_team_channels_team", table_name="team_channels")
    op.drop_table("team_channels")
