"""index the timeline by incident and version (a click on a stale card reads only the changes since
the version it showed), and incidents by declaration time (metrics read a window of recent ones)

Revision ID: 0024_bounded_reads
Revises: 0023_client_summary
"""

from alembic import op

revision = "0024_bounded_reads"
down_revision = "0023_client_summary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_timeline_incident_version", "timeline_events", ["incident_id", "incident_version", "kind"])
    op.create_index("ix_incidents_declared_at", "incidents", ["declared_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_declared_at", table_name="incidents")
    op.drop_index("ix_timeline_incident_version", table_name="timeline_events")
