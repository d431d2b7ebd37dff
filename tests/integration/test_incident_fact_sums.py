"""The response metrics' sums under concurrent writes and at the edge of the window: incidents
declared the same day are changed by concurrent transactions without waiting for one another (two
opposite re-assessments both commit), a change committed while migration 0029 fills the facts in
is not lost, and the window's first day counts only what was declared after the window starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.review.metrics import WINDOW, compute
from services.store.db import _alembic_config, create_engine, session_factory
from services.store.tables import IncidentRow, TimelineRow

ALICE = {"aad_object_id": "aad-alice", "name": "Alice Carter", "user_id": None}
DECLARED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def incident(number: int, priority: str, declared_at: datetime, acknowledged_seconds: float) -> dict[str, Any]:
    return {"id": number, "version": 1, "title": f"Outage {number}", "description": "", "impact": "high",
            "urgency": "high", "priority": priority, "status": "investigating", "service": "", "client": "",
            "source": "chat", "declared_by": ALICE, "declared_at": declared_at, "responders": [],
            "acknowledged_at": declared_at + timedelta(seconds=acknowledged_seconds), "acknowledged_via": "card",
            "resolution_summary": "", "config_version": "", "drill": False}


async def store(engine: AsyncEngine, *incidents: dict[str, Any]) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(IncidentRow), list(incidents))


async def metrics(engine: AsyncEngine, now: datetime) -> Any:
    async with session_factory(engine)() as session:
        return await compute(session, now)


async def test_opposite_reassessments_of_incidents_declared_the_same_day_both_commit(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers are PostgreSQL's; on SQLite one transaction writes at a time")
    await store(engine, incident(1, "P1", DECLARED, 60), incident(2, "P2", DECLARED + timedelta(hours=1), 120))
    async with engine.connect() as first, engine.connect() as second:
        # The first re-assessment stays uncommitted while the second, the opposite one, runs: the
        # second must not wait for any lock the first holds (it would give up after the timeout).
        await first.execute(update(IncidentRow).where(IncidentRow.id == 1).values(priority="P2"))
        await second.execute(text("SET LOCAL lock_timeout = '5s'"))
        await second.execute(update(IncidentRow).where(IncidentRow.id == 2).values(priority="P1"))
        await second.commit()
        await first.commit()
    measured = await metrics(engine, DECLARED + timedelta(days=1))
    assert measured.acknowledge == {"P1": (1, 120.0), "P2": (1, 60.0)}
    assert measured.per_week == {"2026-W02": 2}


async def test_a_change_does_not_wait_for_another_incident_of_the_same_day_and_priority(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers are PostgreSQL's; on SQLite one transaction writes at a time")
    await store(engine, incident(1, "P1", DECLARED, 60))
    async with engine.connect() as first, engine.connect() as second:
        await first.execute(insert(IncidentRow), [incident(2, "P1", DECLARED + timedelta(hours=2), 180)])
        await second.execute(text("SET LOCAL lock_timeout = '5s'"))
        await second.execute(update(IncidentRow).where(IncidentRow.id == 1).values(
            acknowledged_at=DECLARED + timedelta(seconds=30)))
        await second.commit()
        await first.commit()
    measured = await metrics(engine, DECLARED + timedelta(days=1))
    assert measured.acknowledge == {"P1": (2, 105.0)}


async def test_the_first_day_of_the_window_counts_what_was_declared_after_the_window_starts(engine):
    now = datetime(2026, 4, 5, 15, 0, tzinfo=UTC)
    start = now - WINDOW  # 2026-01-05 15:00, mid-day
    await store(engine,
                incident(1, "P1", start - timedelta(days=1), 1000),  # the day before: out
                incident(2, "P1", start - timedelta(hours=1), 2000),  # the same day, before the start: out
                incident(3, "P1", start + timedelta(hours=1), 60),  # the same day, after the start: in
                incident(4, "P1", start + timedelta(days=1), 120))  # the next day: in
    measured = await metrics(engine, now)
    assert measured.acknowledge == {"P1": (2, 90.0)}
    assert measured.per_week == {"2026-W02": 2}


def _upgrade_to(connection: Any, revision: str) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_a_status_update_committed_while_the_facts_are_filled_in_is_counted(database_url):
    """A status update written before migration 0029 starts and committed while it runs (the
    migration waits for it): counted, whether the fill saw it or the triggers did."""
    engine = create_engine(database_url)
    try:
        if engine.dialect.name != "postgresql":
            pytest.skip("concurrent writers are PostgreSQL's; on SQLite the migration is the one writer")
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0028_dedicated_channels")
            await connection.execute(insert(IncidentRow), [incident(1, "P1", DECLARED, 60)])
        async with engine.connect() as writer, engine.connect() as migrating:
            await writer.execute(insert(TimelineRow), [{
                "incident_id": 1, "at": DECLARED + timedelta(minutes=30), "kind": "status_update", "actor": ALICE,
                "summary": "update", "after": {"automatic": False, "late": False}, "incident_version": 1}])
            pid = await migrating.scalar(text("SELECT pg_backend_pid()"))
            await migrating.commit()

            async def migrate_to_the_facts() -> None:
                async with migrating.begin():
                    await migrating.run_sync(_upgrade_to, "heads")

            migration = asyncio.ensure_future(migrate_to_the_facts())
            async with engine.connect() as watching:  # the migration waits for the writer's lock
                while not await watching.scalar(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND wait_event_type = 'Lock'"),
                        {"pid": pid}):
                    assert not migration.done(), migration.exception()
                    await watching.rollback()
                    await asyncio.sleep(0.05)
            await writer.commit()
            await migration
        measured = await metrics(engine, DECLARED + timedelta(days=1))
        assert measured.updates == {"on_time": 1, "late": 0, "automatic": 0}
    finally:
        await engine.dispose()
