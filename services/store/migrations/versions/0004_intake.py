"""intake: alert receipts and links, Freshdesk ticket links, reported issues

Revision ID: 0004_intake
Revises: 0002

A branch beside the other migrations on 0002; Beacon applies `heads`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_intake"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_receipts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
    )
    op.create_index("ix_alert_receipts_received", "alert_receipts", ["received_at"])
    op.create_table(
        "alert_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("alert_key", sa.String(500), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(30), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("declared", sa.Boolean(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("source", "alert_key", "incident_id", name="uq_alert_links_alert_incident"),
    )
    op.create_index("ix_alert_links_key", "alert_links", ["source", "alert_key"])
    op.create_index("ix_alert_links_service", "alert_links", ["service", "last_at"])
    op.create_index("ix_alert_links_incident", "alert_links", ["incident_id"])
    op.create_table(
        "ticket_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True, unique=True),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ticket_links_incident", "ticket_links", ["incident_id"])
    op.create_table(
        "reported_issues",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("requester_email", sa.String(300), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("impact", sa.String(10), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=True),
        sa.Column("decided_by", sa.JSON(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(400), nullable=False),
        sa.Column("activity_id", sa.String(200), nullable=False),
        sa.Column("service_url", sa.String(500), nullable=False),
        sa.Column("tenant_id", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reported_issues")
    op.drop_index("ix_ticket_links_incident", table_name="ticket_links")
    op.drop_table("ticket_links")
    op.drop_index("ix_alert_links_incident", table_name="alert_links")
    op.drop_index("ix_alert_links_service", table_name="alert_links")
    op.drop_index("ix_alert_links_key", table_name="alert_links")
    op.drop_table("alert_links")
    op.drop_index("ix_alert_receipts_received", table_name="alert_receipts")
    op.drop_table("alert_receipts")
