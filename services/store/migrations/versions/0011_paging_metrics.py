"""paging metrics and look-ups: how each incident was acknowledged, and the indexes that keep the
paging metrics and `@Beacon page` in a thread from reading whole tables

Revision ID: 0011_paging_metrics
Revises: 0015_impact_started
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_paging_metrics"
down_revision = "0015_impact_started"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paging_acks",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(200), nullable=False, server_default=""),
        sa.Column("priority", sa.String(20), nullable=False, server_default=""),
        sa.Column("level", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("via", sa.String(20), nullable=False, server_default=""),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_index("ix_paging_acks_at", "paging_acks", ["at"])
    op.create_index("ix_outbox_kind_created", "outbox", ["kind", "created_at"])
    op.create_index("ix_timeline_kind_at", "timeline_events", ["kind", "at"])
    op.create_index("ix_incident_threads_root", "incident_threads", ["root_activity_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_threads_root", table_name="incident_threads")
    op.drop_index("ix_timeline_kind_at", table_name="timeline_events")
    op.drop_index("ix_outbox_kind_created", table_name="outbox")
    op.drop_index("ix_paging_acks_at", table_name="paging_acks")
    op.drop_table("paging_acks")
