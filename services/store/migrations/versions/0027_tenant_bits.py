"""installations.aad_group_id: the team's Microsoft 365 group id, as Teams names it at install, so
Graph can be asked which kind of channel (standard, private, shared) a configured channel is

Revision ID: 0027_tenant_bits
Revises: 0025_status_subscriptions
"""

import sqlalchemy as sa
from alembic import op

revision = "0027_tenant_bits"
down_revision = "0025_status_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("aad_group_id", sa.String(100), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        batch.drop_column("aad_group_id")
