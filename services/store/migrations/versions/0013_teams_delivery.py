"""teams delivery: the Teams conversations Beacon cannot post to, and the name of each team it is in

Revision ID: 0013_teams_delivery
Revises: 0010_oncall_feeds
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_teams_delivery"
down_revision = "0010_oncall_feeds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams_problems",
        sa.Column("conversation_id", sa.String(300), primary_key=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("fix", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="1"),
    )
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("team_name", sa.String(300), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        batch.drop_column("team_name")
    op.drop_table("teams_problems")
