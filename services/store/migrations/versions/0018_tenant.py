"""call notifications that arrive before Beacon stored the call they are about: kept until it is

Revision ID: 0018_tenant
Revises: 0013_teams_delivery
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_tenant"
down_revision = "0013_teams_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_call_notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_key", sa.String(100), nullable=False),
        sa.Column("notification", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_held_call_notifications_call", "held_call_notifications", ["call_key", "id"])
    op.create_index("ix_held_call_notifications_received", "held_call_notifications", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_held_call_notifications_received", table_name="held_call_notifications")
    op.drop_index("ix_held_call_notifications_call", table_name="held_call_notifications")
    op.drop_table("held_call_notifications")
