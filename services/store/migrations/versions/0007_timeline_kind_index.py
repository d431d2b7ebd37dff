"""index the timeline by incident and kind (an update draft reads from the last status update on)

Revision ID: 0007_timeline_kind_index
Revises: 0006_incident_service_index
"""

from alembic import op

revision = "0007_timeline_kind_index"
down_revision = "0006_incident_service_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_timeline_incident_kind", "timeline_events", ["incident_id", "kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_timeline_incident_kind", table_name="timeline_events")
