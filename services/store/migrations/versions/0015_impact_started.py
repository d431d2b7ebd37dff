"""incidents: when the impact started, when the declarer knew it was earlier than the declaration

Revision ID: 0015_impact_started
Revises: 0009_paging
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_impact_started"
down_revision = "0009_paging"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("impact_started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("impact_started_at")
