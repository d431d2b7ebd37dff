"""teams pacing: the sends made and the turns waiting, per Teams conversation, shared by replicas

Revision ID: 0021_teams_pacing
Revises: 0020_roster
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_teams_pacing"
down_revision = "0020_roster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams_pacing",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(300), nullable=False),
        sa.Column("effect_id", sa.Integer(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_teams_pacing_conversation", "teams_pacing", ["conversation_id", "sent", "at"])


def downgrade() -> None:
    op.drop_index("ix_teams_pacing_conversation", table_name="teams_pacing")
    op.drop_table("teams_pacing")
