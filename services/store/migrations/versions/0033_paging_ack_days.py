"""acknowledgement sums per day: the acknowledgements of each UTC day, service, priority, level
paged, way of acknowledging and time-to-acknowledge bucket, counted and their seconds summed, kept
by a trigger on `paging_acks` in the transaction of each acknowledgement, and filled in from the
acknowledgements stored so far; so that the paging metrics read at most 90 days of sums, not every
acknowledgement of the 90 days

As the incident facts' sums (migration 0029), the sums are kept in one row per writer (`slot`: the
PostgreSQL server process, pg_backend_pid(), which runs one transaction at a time; 0 on SQLite), so
no two transactions write the same row: acknowledgements never wait for one another, and a
transaction storing several (an import) cannot deadlock with another. The review worker's hourly
compaction merges the rows of server processes that are gone into slot 0. The buckets are
services.paging.metrics.BUCKETS: changing them needs a migration that replaces the trigger and
fills the table again.

Revision ID: 0033_paging_ack_days
Revises: 0032_paging_scrape_indexes
"""

import sqlalchemy as sa
from alembic import op

from services.paging.metrics import BUCKETS

revision = "0033_paging_ack_days"
down_revision = "0032_paging_scrape_indexes"
branch_labels = None
depends_on = None

KEY = ("day", "service", "priority", "level", "via", "bucket", "slot")


def _day(row: str, postgresql: bool) -> str:
    if postgresql:
        return f"to_char({row}at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"date({row}at)"


def _bucket(row: str) -> str:
    cases = " ".join(f"WHEN {row}seconds <= {bound} THEN {i}" for i, bound in enumerate(BUCKETS))
    return f"CASE {cases} ELSE {len(BUCKETS)} END"


def _add(postgresql: bool) -> str:
    """The new acknowledgement added to its day's sums."""
    return (f"INSERT INTO paging_ack_days ({', '.join(KEY)}, acks, seconds) "
            f"VALUES ({_day('NEW.', postgresql)}, NEW.service, NEW.priority, NEW.level, NEW.via, "
            f"{_bucket('NEW.')}, {'pg_backend_pid()' if postgresql else '0'}, 1, NEW.seconds) "
            f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET acks = paging_ack_days.acks + 1, "
            "seconds = paging_ack_days.seconds + excluded.seconds")


def upgrade() -> None:
    op.create_table(
        "paging_ack_days",
        sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC, of the acknowledgement
        sa.Column("service", sa.String(200), primary_key=True),
        sa.Column("priority", sa.String(20), primary_key=True),
        sa.Column("level", sa.Integer(), primary_key=True),
        sa.Column("via", sa.String(20), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True),  # the first of BUCKETS the seconds fit under
        sa.Column("slot", sa.Integer(), primary_key=True),  # the writer: pg_backend_pid(), 0 on SQLite
        sa.Column("acks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("seconds", sa.Float(), nullable=False, server_default="0"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    # The trigger first, then the fill: on PostgreSQL creating the trigger locks paging_acks against
    # writes until the migration commits, and on SQLite the migration is the one writer, so no
    # acknowledgement is counted twice or missed. The fill overwrites: run twice, it changes nothing.
    if postgresql:
        op.execute("CREATE FUNCTION paging_ack_days() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"{_add(True)}; RETURN NULL; END $$")
        op.execute("CREATE TRIGGER paging_ack_days AFTER INSERT ON paging_acks FOR EACH ROW "
                   "EXECUTE FUNCTION paging_ack_days()")
    else:
        op.execute(f"CREATE TRIGGER paging_ack_days AFTER INSERT ON paging_acks BEGIN {_add(False)}; END")
    op.execute(f"INSERT INTO paging_ack_days ({', '.join(KEY)}, acks, seconds) "
               f"SELECT {_day('', postgresql)}, service, priority, level, via, {_bucket('')}, 0, count(*), sum(seconds) "
               f"FROM paging_acks WHERE true GROUP BY 1, 2, 3, 4, 5, 6 "
               f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET acks = excluded.acks, seconds = excluded.seconds")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER paging_ack_days ON paging_acks")
        op.execute("DROP FUNCTION paging_ack_days()")
    else:
        op.execute("DROP TRIGGER paging_ack_days")
    op.drop_table("paging_ack_days")
