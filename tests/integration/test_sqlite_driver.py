"""SQLite's connections (services/store/sqlite_driver.py): a statement is one hop to the
connection's thread, and what SQLAlchemy reads back (rows, ids, counts, errors) is what sqlite3
gives it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.incidents import Person
from services.store.db import create_engine, migrate, session_factory
from services.store.sqlite_driver import OneHopConnection
from services.store.uow import UnitOfWork

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'beacon.db'}")
    await migrate(engine)
    yield engine
    await engine.dispose()


async def test_a_statement_costs_one_hop_to_the_connection_thread(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    hops = 0
    run = OneHopConnection.run

    def counted(self, function):  # type: ignore[no-untyped-def]
        nonlocal hops
        hops += 1
        return run(self, function)

    monkeypatch.setattr(OneHopConnection, "run", counted)
    async with UnitOfWork(session_factory(engine)) as uow:
        await uow.session.execute(text("SELECT 1"))  # the connection is open and the transaction begun
        hops = 0
        rows = (await uow.session.execute(text("SELECT value FROM json_each('[1,2,3]')"))).all()
        assert [r[0] for r in rows] == [1, 2, 3]
        assert hops == 1  # aiosqlite's own cursor takes four: open, execute, fetch, close


async def test_ids_counts_and_errors_reach_the_store_as_sqlite_gives_them(engine) -> None:  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    alice = Person("aad-alice", "Alice")
    async with UnitOfWork(sessions) as uow:
        await uow.people.remember([alice], NOW)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert (await uow.people.named(["aad-alice"]))["aad-alice"].name == "Alice"
        inserted = await uow.session.execute(
            text("INSERT INTO processed_activities (activity_id, incident_id, processed_at) VALUES ('a1', NULL, :at)"),
            {"at": NOW})
        assert (inserted.rowcount, inserted.lastrowid) == (1, 1)
        updated = await uow.session.execute(text("UPDATE processed_activities SET incident_id = NULL"))
        assert updated.rowcount == 1
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        with pytest.raises(IntegrityError):
            await uow.session.execute(
                text("INSERT INTO processed_activities (activity_id, incident_id, processed_at) VALUES ('a1', NULL, :at)"),
                {"at": NOW})
    async with UnitOfWork(sessions) as uow:  # the failed insert changed nothing
        count = await uow.session.scalar(text("SELECT count(*) FROM processed_activities"))
        assert count == 1


async def test_a_long_statement_runs_off_the_event_loop(engine) -> None:  # type: ignore[no-untyped-def]
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    slow = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
                "SELECT count(*) FROM n")
    task = asyncio.create_task(ticker())
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            started = time.perf_counter()
            assert await uow.session.scalar(slow) == 3_000_000
            took = time.perf_counter() - started
    finally:
        task.cancel()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert took > 0.2, "the statement must be slow enough to show a stall"
    assert max(gaps) < 0.1, f"the event loop stalled {max(gaps):.2f} s during a {took:.2f} s statement"
