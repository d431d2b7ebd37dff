"""incident bridges and the calls that rang responders

Revision ID: 0003_bridge
Revises: 0002

A branch beside the other 0003/0004 migrations of the same base; Beacon applies `heads`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_bridge"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridges",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.JSON(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invitees", sa.JSON(), nullable=False),
        sa.Column("invited", sa.JSON(), nullable=False),
        sa.Column("meeting_id", sa.Text(), nullable=False),
        sa.Column("join_url", sa.Text(), nullable=False),
        sa.Column("dial_in", sa.String(length=200), nullable=False),
        sa.Column("conference_id", sa.String(length=100), nullable=False),
        sa.Column("passcode", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.create_table(
        "bridge_calls",
        sa.Column("call_key", sa.String(length=100), nullable=False),
        sa.Column("call_id", sa.String(length=100), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("call_key"),
    )
    op.create_index("ix_bridge_calls_incident", "bridge_calls", ["incident_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_bridge_calls_incident", table_name="bridge_calls")
    op.drop_table("bridge_calls")
    op.drop_table("bridges")
