"""The paging metrics' acknowledgement sums (migration 0033): what a scrape reports from the day
sums is what counting every acknowledgement of the 90 days gives, for acknowledgements stored
before the migration (filled in) and after it (kept by the trigger), at the window's first,
partial day and whatever their time to acknowledge; and the rows of PostgreSQL writers that are
gone merge into one without changing a sum."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from services.paging.metrics import ACK_DAY_KEY, BUCKETS, WINDOW, PageAckDayRow, PageAckRow, compute
from services.review.metrics import compact_fact_days
from services.store.db import create_engine, migrate, session_factory
from services.store.tables import IncidentRow
from tests.integration.test_incident_fact_sums import _upgrade_to, incident

NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
SINCE = NOW - WINDOW  # 2026-09-05 15:30: that day counts only from then on


def ack(number: int, at: datetime, seconds: float, *, service: str = "payments-api", priority: str = "P1",
        level: int = 1, via: str = "sms_link") -> dict[str, Any]:
    return dict(incident_id=number, at=at, service=service, priority=priority, level=level, via=via, seconds=seconds)


def expected(acks: list[dict[str, Any]]) -> tuple[dict[Any, Any], dict[Any, int]]:
    """The metrics counted from every acknowledgement of the window, one by one."""
    time_to_ack: dict[tuple[str, str], tuple[int, float, list[int]]] = {}
    by_level: dict[tuple[int, str], int] = {}
    for a in acks:
        if a["at"] < SINCE:
            continue
        n, total, cumulative = time_to_ack.get((a["service"], a["priority"]), (0, 0.0, [0] * len(BUCKETS)))
        time_to_ack[(a["service"], a["priority"])] = (
            n + 1, total + a["seconds"], [c + (a["seconds"] <= bound) for c, bound in zip(cumulative, BUCKETS)])
        by_level[(a["level"], a["via"])] = by_level.get((a["level"], a["via"]), 0) + 1
    return time_to_ack, by_level


async def test_the_sums_report_what_every_acknowledgement_of_the_window_adds_up_to(database_url):
    before = [  # stored before the migration: filled in
        ack(1, SINCE - timedelta(days=3), 40),  # before the window
        ack(2, SINCE - timedelta(hours=1), 50),  # the window's first day, before it starts
        ack(3, SINCE + timedelta(hours=1), 30),  # the first day, inside (30 s: on the first bound)
        ack(4, NOW - timedelta(days=40), 7300, level=2, via="teams_page"),
        ack(5, NOW - timedelta(days=40), 90000, priority="P2", via="card"),  # past the last bucket
    ]
    after = [  # stored after it: kept by the trigger
        ack(6, SINCE + timedelta(hours=2), 61, service="search"),
        ack(7, NOW - timedelta(days=40), 600),  # INC-4's day, another level and way: a row of its own
        ack(8, NOW - timedelta(days=40), 7400, level=2, via="teams_page"),  # adds to INC-4's day row
        ack(9, NOW - timedelta(minutes=5), 14400, level=0, via="card"),  # today
    ]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0032_paging_scrape_indexes")
            await connection.execute(insert(IncidentRow), [incident(n, "P1", NOW - timedelta(days=100), 60)
                                                           for n in range(1, 10)])
            await connection.execute(insert(PageAckRow), before)
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "heads")
            await connection.execute(insert(PageAckRow), after[:2])
        for row in after[2:]:  # one acknowledgement per transaction, as people acknowledge
            async with engine.begin() as connection:
                await connection.execute(insert(PageAckRow), [row])
        async with session_factory(engine)() as session:
            numbers = await compute(session, NOW)
            keys = len(list(await session.execute(select(*(PageAckDayRow.__table__.c[c] for c in ACK_DAY_KEY))
                                                  .distinct())))
        time_to_ack, by_level = expected(before + after)
        assert numbers.time_to_ack == time_to_ack
        assert numbers.acknowledgements == by_level
        assert sum(n for n, _, _ in numbers.time_to_ack.values()) == 7  # INC-1 and INC-2 are before the window
        assert keys == 8  # INC-4 and INC-8 share a day, service, priority, level, way and bucket
    finally:
        await engine.dispose()


async def test_the_sums_of_writers_that_are_gone_are_merged_and_still_add_up(database_url):
    """On PostgreSQL each server process keeps its own row of sums, so acknowledgements never wait
    for one another; the hourly compaction folds the rows of processes that have gone into one."""
    engine = create_engine(database_url)
    try:
        if engine.dialect.name != "postgresql":
            pytest.skip("one writer, slot 0, on SQLite: nothing to compact")
        await migrate(engine)
        async with engine.begin() as connection:
            await connection.execute(insert(IncidentRow), [incident(n, "P1", NOW - timedelta(days=3), 60)
                                                           for n in range(1, 4)])
        rows = [ack(1, NOW - timedelta(days=2), 40), ack(2, NOW - timedelta(days=2), 45),
                ack(3, NOW - timedelta(days=2), 100)]
        for row in rows:  # each through a connection of its own, which then closes
            writer = create_engine(database_url)
            try:
                async with writer.begin() as connection:
                    await connection.execute(insert(PageAckRow), [row])
            finally:
                await writer.dispose()
        async with session_factory(engine)() as session:
            before = await compute(session, NOW)
            slots = await session.scalar(select(func.count(func.distinct(PageAckDayRow.slot))))
        for _ in range(200):  # the processes leave pg_stat_activity a moment after their connections close
            async with session_factory(engine)() as session:
                await compact_fact_days(session)
                await session.commit()
                left = list(await session.scalars(select(PageAckDayRow.slot).where(PageAckDayRow.slot != 0)))
            if not left:
                break
            await asyncio.sleep(0.05)
        async with session_factory(engine)() as session:
            after = await compute(session, NOW)
            day_rows = list(await session.execute(select(PageAckDayRow.bucket, PageAckDayRow.slot,
                                                         PageAckDayRow.acks).order_by(PageAckDayRow.bucket)))
        assert slots == 3 and before.time_to_ack == after.time_to_ack == expected(rows)[0]
        assert [tuple(r) for r in day_rows] == [(1, 0, 2), (2, 0, 1)]  # 40 and 45 s under a minute; 100 s
    finally:
        await engine.dispose()
