"""index the outbox for claims that stay fast with a backlog of tens of thousands of rows

- (status, id, next_attempt_at) instead of (status, next_attempt_at): a claim walks the pending
  rows oldest first and stops at its limit, instead of reading and sorting the whole backlog
  (~50 ms on SQLite, holding its one write lock).
- (ordering_key, id) over unfinished rows only, for "is an earlier row of this thread still to go
  out": small, and PostgreSQL without statistics yet no longer combines it with the status index
  for every candidate row (seconds per claim on a fresh backlog).

Revision ID: 0008_outbox_queue_index
Revises: 0007_timeline_kind_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_outbox_queue_index"
down_revision = "0007_timeline_kind_index"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    op.create_index("ix_outbox_queue", "outbox", ["status", "id", "next_attempt_at"])
    op.create_index("ix_outbox_unfinished", "outbox", ["ordering_key", "id"], sqlite_where=UNFINISHED,
                    postgresql_where=UNFINISHED)
    op.drop_index("ix_outbox_due", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.drop_index("ix_outbox_unfinished", table_name="outbox")
    op.drop_index("ix_outbox_queue", table_name="outbox")
