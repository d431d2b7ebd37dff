"""index open incidents by service (alert grouping), and join the branches

Revision ID: 0006_incident_service_index
Revises: 0003_bridge, 0003_drill, 0004_intake, 0005_review
"""

from alembic import op

revision = "0006_incident_service_index"
down_revision = ("0003_bridge", "0003_drill", "0004_intake", "0005_review")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_service_status", "incidents", ["service", "status"])


def downgrade() -> None:
    op.drop_index("ix_incidents_service_status", table_name="incidents")
