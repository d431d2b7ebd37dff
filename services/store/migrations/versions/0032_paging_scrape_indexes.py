"""indexes that let the paging metrics count their 90 days from indexes: the acknowledgements by
time with what the metrics group by (replacing `ix_paging_acks_at`), the pages whose error says
their method is not configured (a partial index: telling them from the pages not needed read every
skipped page's row for its error), and the drills by id (whose pages the metrics leave out: a join
to every page's incident cost more than counting the pages); and the ticket links by time with
the columns the customer metrics read (replacing `ix_ticket_links_created`), for the same reason

Revision ID: 0032_paging_scrape_indexes
Revises: 0031_scrape_indexes
"""

from alembic import op
from sqlalchemy import text

revision = "0032_paging_scrape_indexes"
down_revision = "0031_scrape_indexes"
branch_labels = None
depends_on = None

# Spelled as services.paging.metrics spells the condition: a planner uses a partial index only
# for a query whose WHERE clause contains its predicate as written.
UNCONFIGURED = "last_error LIKE '%not configured'"


def upgrade() -> None:
    op.create_index("ix_paging_acks_window", "paging_acks", ["at", "service", "priority", "level", "via", "seconds"])
    op.drop_index("ix_paging_acks_at", table_name="paging_acks")
    # The same columns as ix_outbox_kind_state, so that SQLite's planner, which has no statistics,
    # prefers it for the one query whose WHERE clause implies its predicate.
    op.create_index("ix_outbox_unconfigured", "outbox", ["kind", "status", "created_at", "incident_id"],
                    sqlite_where=text(UNCONFIGURED), postgresql_where=text(UNCONFIGURED))
    op.create_index("ix_incidents_drill", "incidents", ["drill", "id"])
    op.create_index("ix_ticket_links_window", "ticket_links", ["created_at", "role", "incident_id", "ticket_id"])
    op.drop_index("ix_ticket_links_created", table_name="ticket_links")


def downgrade() -> None:
    op.create_index("ix_ticket_links_created", "ticket_links", ["created_at"])
    op.drop_index("ix_ticket_links_window", table_name="ticket_links")
    op.drop_index("ix_incidents_drill", table_name="incidents")
    op.drop_index("ix_outbox_unconfigured", table_name="outbox")
    op.create_index("ix_paging_acks_at", "paging_acks", ["at"])
    op.drop_index("ix_paging_acks_window", table_name="paging_acks")
