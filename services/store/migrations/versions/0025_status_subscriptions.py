"""status_subscriptions: the addresses that asked for a client's incident updates by email on its
status page (double opt-in: pending until confirmed), one row per client and address

Revision ID: 0025_status_subscriptions
Revises: 0024_bounded_reads
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_status_subscriptions"
down_revision = "0024_bounded_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmations_sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_confirmation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("client", "address", name="uq_status_subscriptions_client_address"),
    )
    op.create_index("ix_status_subscriptions_client_state", "status_subscriptions", ["client", "state"])


def downgrade() -> None:
    op.drop_index("ix_status_subscriptions_client_state", table_name="status_subscriptions")
    op.drop_table("status_subscriptions")
