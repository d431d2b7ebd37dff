"""What a claim reads on PostgreSQL: the first row still to go out of each ordering key, never
the rows queued behind it. A busy incident queues a thread note per click behind one post that
Teams' pacing holds back, and the outbox worker claims after nearly every click; a claim that
checked every waiting row cost the database more than the clicks themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from services.outbox import _claim_statement
from services.store.tables import OutboxRow

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def row(key: str, order: str, *, due: datetime, status: str = "pending") -> dict[str, object]:
    return dict(kind="teams.thread_note", idempotency_key=key, ordering_key=order, payload={"n": key},
                status=status, attempts=0, next_attempt_at=due, created_at=NOW, last_error="")


async def claim_reading(engine, waiting: int) -> tuple[list[str], int]:
    """Three incidents' threads, each with a paced note (due in a minute) and `waiting` notes
    behind it, sent rows of their past, and one other incident whose note is due now: what one
    claim takes, and how many rows it read. Rolled back."""
    async with engine.connect() as connection:
        async with connection.begin() as transaction:
            await connection.execute(text("DELETE FROM outbox"))
            sent = [row(f"sent-{n}", f"incident:{n % 4}", due=NOW, status="sent") for n in range(500)]
            queued = [row(f"{thread}-{n}", f"incident:{thread}", due=NOW + timedelta(minutes=1) if n == 0 else NOW)
                      for thread in (1, 2, 3) for n in range(waiting + 1)]
            await connection.execute(insert(OutboxRow), [*sent, *queued, row("due-now", "incident:4", due=NOW)])
            # The statistics autovacuum keeps in a deployment (the test server may run without it).
            await connection.execute(text("ANALYZE outbox"))
            before = await rows_read(connection)
            claimed = (await connection.execute(_claim_statement(True, lapsed=False), {
                "now": NOW, "lease_until": NOW + timedelta(minutes=5), "most": 8})).all()
            read = await rows_read(connection) - before
            await transaction.rollback()
    return [r.idempotency_key for r in claimed], read


async def rows_read(connection) -> int:
    """Rows this transaction has read from the outbox so far (PostgreSQL's own count)."""
    found = await connection.execute(text(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
        "WHERE relname = 'outbox'"))
    return int(found.scalar() or 0)


async def test_a_claim_reads_the_head_of_each_queue_not_the_rows_waiting_behind_it(database_url, engine):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's claim: SQLite, in the process, checks each waiting row (about 2 ms at 3,000)")
    claimed_few, read_few = await claim_reading(engine, waiting=10)
    claimed_many, read_many = await claim_reading(engine, waiting=2000)
    # Only the note due now goes: the paced ones hold their threads, and nothing overtakes them.
    assert claimed_few == claimed_many == ["due-now"]
    # Six thousand notes waiting cost the claim no more reads than thirty did.
    assert read_many <= read_few + 10, (read_few, read_many)
