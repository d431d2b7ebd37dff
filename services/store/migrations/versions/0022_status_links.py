"""status_links: the generation of each client's status-page links (revoking bumps it); incidents
are found by client for the page

Revision ID: 0022_status_links
Revises: 0021_teams_pacing
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_status_links"
down_revision = "0021_teams_pacing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_links",
        sa.Column("client", sa.String(200), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False, server_default=""),
    )
    op.create_index("ix_incidents_client", "incidents", ["client", "declared_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_client", table_name="incidents")
    op.drop_table("status_links")
