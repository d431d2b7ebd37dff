"""The compaction of the response metrics' daily sums on PostgreSQL: the rows left by server
processes that are gone are merged into one per day and priority, the sums a scrape reads stay
the same, a writer's change made while a compaction runs is neither lost nor counted twice, and the
review worker compacts once an hour."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.clock import FakeClock
from services.review.links import ReportLinks
from services.review.metrics import COMPACTED_SLOT, compact_fact_days
from services.review.settings import ReviewSettings
from services.review.worker import ReviewScheduler
from services.store.db import create_engine, session_factory
from services.store.tables import IncidentRow
from services.store.uow import UnitOfWork
from tests.integration.test_incident_fact_sums import DECLARED, incident, metrics

SUMS = "SELECT day, priority, sum(incidents), sum(acknowledged), sum(acknowledged_seconds) FROM incident_fact_days " \
       "GROUP BY day, priority ORDER BY day, priority"


@pytest.fixture(autouse=True)
def postgresql_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("one writer, slot 0, on SQLite: nothing to compact")


async def sums(engine: AsyncEngine) -> tuple[int, list[Any]]:
    """How many rows of sums, and the sums per day and priority a scrape adds up."""
    async with engine.connect() as connection:
        rows = await connection.scalar(text("SELECT count(*) FROM incident_fact_days"))
        return int(rows or 0), [tuple(row) for row in await connection.execute(text(SUMS))]


async def written_by_a_process_that_leaves(database_url: str, *incidents: dict[str, Any]) -> None:
    """Incidents stored through a connection of their own, which then closes (its server process
    ends, as on a restart or a reconnection)."""
    writer = create_engine(database_url)
    try:
        async with writer.begin() as connection:
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            await connection.execute(insert(IncidentRow), list(incidents))
    finally:
        await writer.dispose()
    async with create_engine(database_url).connect() as watching:
        for _ in range(200):  # the process leaves pg_stat_activity a moment after the connection closes
            if not await watching.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                return
            await watching.rollback()
            await asyncio.sleep(0.05)
    raise AssertionError(f"server process {pid} still there")


async def compact(engine: AsyncEngine) -> int:
    async with session_factory(engine)() as session:
        merged = await compact_fact_days(session)
        await session.commit()
    return merged


async def test_the_sums_of_writers_that_are_gone_become_one_row_per_day_and_priority(engine, database_url):
    day_two = DECLARED + timedelta(days=1)
    await written_by_a_process_that_leaves(database_url, incident(1, "P1", DECLARED, 60),
                                           incident(2, "P2", day_two, 90))
    await written_by_a_process_that_leaves(database_url, incident(3, "P1", DECLARED, 120),
                                           incident(4, "P2", day_two, 30))
    await written_by_a_process_that_leaves(database_url, incident(5, "P1", DECLARED, 30))
    async with engine.begin() as live:  # the pool keeps this connection, and its process, alive
        await live.execute(insert(IncidentRow), [incident(6, "P1", DECLARED, 300)])
    rows_before, before = await sums(engine)
    measured_before = await metrics(engine, day_two + timedelta(hours=1))
    assert rows_before == 6  # P1 of day one by four writers, P2 of day two by two

    assert await compact(engine) == 5
    rows_after, after = await sums(engine)
    assert after == before and rows_after == 3  # P1: the gone writers' row and the live one's; P2: one
    assert await metrics(engine, day_two + timedelta(hours=1)) == measured_before
    assert measured_before.acknowledge == {"P1": (4, 127.5), "P2": (2, 60.0)}

    await written_by_a_process_that_leaves(database_url, incident(7, "P2", day_two, 60))
    assert await compact(engine) == 1  # added to the row already compacted
    rows, _ = await sums(engine)
    assert rows == 3 and await compact(engine) == 0
    assert (await metrics(engine, day_two + timedelta(hours=1))).acknowledge == {"P1": (4, 127.5), "P2": (3, 60.0)}
    async with engine.connect() as connection:
        assert set(await connection.scalars(text("SELECT DISTINCT slot FROM incident_fact_days"))) == {
            COMPACTED_SLOT, await connection.scalar(text("SELECT pg_backend_pid()"))}


async def test_a_live_writer_neither_waits_for_a_compaction_nor_makes_it_wait(engine, database_url):
    await written_by_a_process_that_leaves(database_url, incident(1, "P1", DECLARED, 60),
                                           incident(2, "P1", DECLARED, 60))
    factory = session_factory(engine)
    async with factory() as compacting, engine.connect() as writer:
        await compact_fact_days(compacting)  # not committed yet
        await writer.execute(text("SET LOCAL lock_timeout = '5s'"))
        await writer.execute(insert(IncidentRow), [incident(3, "P1", DECLARED, 180)])
        await writer.execute(update(IncidentRow).where(IncidentRow.id == 1).values(priority="P2"))
        await writer.commit()
        await compacting.commit()
    async with engine.connect() as writer, factory() as compacting:
        await writer.execute(update(IncidentRow).where(IncidentRow.id == 2).values(
            acknowledged_at=DECLARED + timedelta(seconds=30)))  # not committed yet
        await compacting.execute(text("SET LOCAL lock_timeout = '5s'"))
        await compact_fact_days(compacting)
        await compacting.commit()
        await writer.commit()
    assert (await metrics(engine, DECLARED + timedelta(days=1))).acknowledge == {"P1": (2, 105.0), "P2": (1, 60.0)}


async def test_a_change_to_a_row_being_compacted_is_moved_with_it(engine, database_url):
    """Should a new server process get a gone one's pid, it writes that slot's row again: its
    change, committed while the compaction waits for its row, is what the compaction moves."""
    await written_by_a_process_that_leaves(database_url, incident(1, "P1", DECLARED, 60))
    async with engine.connect() as connection:
        slot = await connection.scalar(text("SELECT slot FROM incident_fact_days"))
    async with engine.connect() as reused:
        await reused.execute(text(  # as the triggers add an incident acknowledged after 120 s
            "UPDATE incident_fact_days SET incidents = incidents + 1, acknowledged = acknowledged + 1, "
            "acknowledged_seconds = acknowledged_seconds + 120 WHERE slot = :slot"), {"slot": slot})
        compaction = asyncio.ensure_future(compact(engine))
        await asyncio.sleep(0.5)
        assert not compaction.done()  # it waits for the row
        await reused.commit()
        assert await compaction == 1
    rows, after = await sums(engine)
    assert rows == 1 and after == [(DECLARED.date().isoformat(), "P1", 2, 2, 180.0)]


async def test_the_review_worker_compacts_once_an_hour(engine, database_url):
    clock = FakeClock(DECLARED + timedelta(days=1))
    worker = ReviewScheduler(lambda: UnitOfWork(session_factory(engine)),
                             ReviewSettings(ReportLinks("secret", "https://beacon.example", timedelta(days=1))), clock)
    await written_by_a_process_that_leaves(database_url, incident(1, "P1", DECLARED, 60))
    await written_by_a_process_that_leaves(database_url, incident(2, "P1", DECLARED, 120))
    assert await worker.run_once() == 0  # compacting is not work that keeps the loop from sleeping
    assert (await sums(engine))[0] == 1
    await written_by_a_process_that_leaves(database_url, incident(3, "P1", DECLARED, 90))
    clock.advance(timedelta(minutes=59))
    await worker.run_once()
    assert (await sums(engine))[0] == 2  # not yet
    clock.advance(timedelta(minutes=1))
    await worker.run_once()
    assert await sums(engine) == (1, [(DECLARED.date().isoformat(), "P1", 3, 3, 270.0)])
