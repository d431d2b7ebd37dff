"""indexes that keep a /metrics scrape and `@Beacon metrics` from reading the whole history: the
outbox by state and creation time, and by kind, state and creation time (each with what the
metrics count, so counting reads the index alone), follow-up actions by status, and Freshdesk
ticket links by creation time

The outbox is never pruned (every post, email, SMS and page ever sent stays); a scrape counts the
rows in flight, those that failed in the last 90 days and those settled in the last day, each a
range of `ix_outbox_settled`, and the pages of the last 90 days per state from
`ix_outbox_kind_state` alone (with `ix_outbox_kind_created`, the index it replaces, each page's row
was read for its state: ~50 ms for 20,000 pages on SQLite, against ~10). Open actions and a window
of ticket links are likewise ranges.

Revision ID: 0031_scrape_indexes
Revises: 0029_incident_facts
"""

from alembic import op

revision = "0031_scrape_indexes"
down_revision = "0029_incident_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_settled", "outbox", ["status", "created_at", "kind"])
    op.create_index("ix_outbox_kind_state", "outbox", ["kind", "status", "created_at", "incident_id"])
    op.drop_index("ix_outbox_kind_created", table_name="outbox")
    op.create_index("ix_review_actions_status", "review_actions", ["status", "overdue", "incident_id"])
    op.create_index("ix_ticket_links_created", "ticket_links", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_links_created", table_name="ticket_links")
    op.drop_index("ix_review_actions_status", table_name="review_actions")
    op.create_index("ix_outbox_kind_created", "outbox", ["kind", "created_at"])
    op.drop_index("ix_outbox_kind_state", table_name="outbox")
    op.drop_index("ix_outbox_settled", table_name="outbox")
