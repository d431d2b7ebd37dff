"""The response metrics' sums under concurrent writes and at the edge of the window: incidents
declared the same day are changed by concurrent transactions without waiting for one another (two
opposite re-assessments both commit), and the window's first day counts only what was declared
after the window starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.review.metrics import WINDOW, compute
from services.store.db import create_engine, migrate, session_factory
from services.store.tables import IncidentRow

ALICE = {"aad_object_id": "aad-alice", "name": "Alice Carter", "user_id": None}
DECLARED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest_asyncio.fixture
async def engine(database_url) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


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
