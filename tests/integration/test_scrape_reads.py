"""What a /metrics scrape and `@Beacon metrics` read: never the history. The outbox, never pruned,
is counted by state over what stays small (effects in flight, failures of the last 90 days, what
was sent in the last day), and every statement they send finds its rows through an index range."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.links import CUSTOMER_ROLES
from services.intake.tables import TicketLinkRow
from services.metrics import render
from services.paging.metrics import compute
from services.store.db import session_factory
from services.store.tables import IncidentRow, OutboxRow
from services.store.uow import UnitOfWork
from tests.integration.test_incident_fact_sums import incident

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
# The tables that grow with every incident Beacon handles.
HISTORY = ("outbox", "incidents", "timeline_events", "incident_facts", "incident_fact_days", "paging_acks",
           "review_actions", "ticket_links", "reported_issues")


def effect(number: int, kind: str, status: str, age: timedelta, *, incident_id: int = 1,
           why: str = "") -> dict[str, Any]:
    created = NOW - age
    return dict(kind=kind, idempotency_key=f"effect:{number}", ordering_key=f"incident:{incident_id}:{kind}",
                incident_id=incident_id, payload={}, status=status, attempts=1, next_attempt_at=created,
                created_at=created, done_at=None if status in ("pending", "sending") else created, last_error=why)


async def scrape(engine: AsyncEngine) -> dict[tuple[str, str], float]:
    """beacon_outbox_effects as /metrics shows it: (kind, state) → effects."""
    async with UnitOfWork(session_factory(engine)) as uow:
        text = (await render(uow, NOW)).decode()
    return {(kind, state): float(value) for kind, state, value in re.findall(
        r'^beacon_outbox_effects\{kind="([^"]+)",state="([^"]+)"\} (\S+)$', text, re.MULTILINE)}


async def test_the_outbox_is_counted_in_flight_failed_in_90_days_and_settled_in_the_last_day(engine):
    async with engine.begin() as connection:
        await connection.execute(insert(IncidentRow), [incident(1, "P1", NOW - timedelta(days=200), 60)])
        await connection.execute(insert(OutboxRow), [
            *(effect(n, "teams.update_card", "sent", timedelta(days=200)) for n in range(5)),  # long ago
            effect(5, "teams.update_card", "sent", timedelta(hours=30)),  # before yesterday's noon
            effect(6, "teams.update_card", "sent", timedelta(hours=2)),
            effect(7, "teams.update_card", "sent", timedelta(hours=3)),
            effect(8, "sms.send", "failed", timedelta(days=200)),  # older than the metrics' 90 days
            effect(9, "sms.send", "failed", timedelta(days=10)),
            effect(10, "page.sms", "skipped", timedelta(days=3)),
            effect(11, "page.sms", "skipped", timedelta(hours=1)),
            effect(12, "email.send", "pending", timedelta(days=3)),  # still to go out, however old
            effect(13, "teams.thread_note", "sending", timedelta(minutes=1))])
    assert await scrape(engine) == {
        ("teams.update_card", "sent"): 2, ("sms.send", "failed"): 1, ("page.sms", "skipped"): 1,
        ("email.send", "pending"): 1, ("teams.thread_note", "sending"): 1}


async def test_pages_are_counted_by_outcome_over_the_last_90_days_without_drills(engine):
    async with engine.begin() as connection:
        await connection.execute(insert(IncidentRow), [
            incident(1, "P1", NOW - timedelta(days=5), 60), {**incident(2, "P1", NOW - timedelta(days=5), 60),
                                                             "drill": True}])
        await connection.execute(insert(OutboxRow), [
            effect(1, "page.sms", "sent", timedelta(days=200)),  # before the window
            effect(2, "page.sms", "sent", timedelta(days=5)), effect(3, "page.sms", "sent", timedelta(days=5)),
            effect(4, "page.sms", "skipped", timedelta(days=5), why="SMS not configured"),
            effect(5, "page.sms", "skipped", timedelta(days=5), why="acknowledged before it went out"),
            effect(6, "page.voice", "skipped", timedelta(days=5), why="voice calls not configured"),
            effect(7, "page.teams", "pending", timedelta(days=5)),
            effect(8, "page.sms", "sent", timedelta(days=5), incident_id=2)])  # a drill's
    async with session_factory(engine)() as session:
        numbers = await compute(session, NOW)
    assert numbers.pages == {("sms", "sent"): 2, ("sms", "not_configured"): 1, ("sms", "not_needed"): 1,
                             ("voice", "not_configured"): 1, ("teams", "pending"): 1}


async def test_customer_reports_linked_are_those_of_the_last_90_days(engine):
    async with engine.begin() as connection:
        await connection.execute(insert(IncidentRow), [incident(1, "P1", NOW - timedelta(days=200), 60),
                                                       incident(2, "P1", NOW - timedelta(days=5), 60)])
        await connection.execute(insert(TicketLinkRow), [
            dict(incident_id=incident_id, ticket_id=ticket, url="", role="linked", state="linked", error="",
                 created_at=NOW - age)
            for incident_id, ticket, age in ((1, 11, timedelta(days=200)), (1, 12, timedelta(days=199)),
                                             (2, 21, timedelta(days=5)))])
    async with UnitOfWork(session_factory(engine)) as uow:
        customers = await uow.tickets.customer_metrics(CUSTOMER_ROLES, most=10, now=NOW)
    assert (customers.reports, customers.incidents) == (1, 1)
    assert [line.incident_id for line in customers.latest] == [2]


@contextmanager
def sent_by(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) the engine sends meanwhile."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _plans(engine: AsyncEngine, sent: list[tuple[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each statement with its plan's lines (SQLite's EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with
    sequential scans ruled out, so a table read whole shows whenever no index can bound it)."""
    plans = []
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        postgresql = engine.dialect.name == "postgresql"
        if postgresql:
            await raw.execute("SET enable_seqscan = off")
        for statement, parameters in sent:
            if postgresql:
                lines = [row[0] for row in await raw.fetch("EXPLAIN " + statement, *parameters)]
            else:
                cursor = await raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                lines = [row[3] for row in await cursor.fetchall()]
            plans.append((" ".join(statement.split()), lines))
    return plans


def reads_whole(lines: list[str], postgresql: bool) -> list[str]:
    """The history tables a plan reads whole: SQLite's SCAN (even of an index); PostgreSQL's
    sequential scan, or an index scan without an index condition."""
    whole = []
    for i, line in enumerate(lines):
        for table in HISTORY:
            if not postgresql:
                if re.search(rf"\bSCAN {table}\b", line):
                    whole.append(line)
            elif re.search(rf"Seq Scan on {table}\b", line):
                whole.append(line)
            elif re.search(rf"Index (Only )?Scan (Backward )?using \w+ on {table}\b", line):
                rest = lines[i + 1:]
                node = next((j for j, later in enumerate(rest) if "->" in later), len(rest))
                if not any("Index Cond" in later for later in rest[:node]):
                    whole.append(line)
    return whole


async def test_no_statement_of_a_scrape_or_of_beacon_metrics_reads_a_history_table_whole(engine):
    async with engine.begin() as connection:
        await connection.execute(insert(IncidentRow), [incident(1, "P1", NOW - timedelta(days=5), 60)])
        await connection.execute(insert(TicketLinkRow), [dict(
            incident_id=1, ticket_id=11, url="", role="linked", state="linked", error="", created_at=NOW)])
    with sent_by(engine) as sent:
        async with UnitOfWork(session_factory(engine)) as uow:
            await render(uow, NOW)
            await uow.reviews.metrics(NOW)
            await uow.paging_metrics.summary_rows(NOW)
            await uow.tickets.customer_metrics(CUSTOMER_ROLES, most=10, now=NOW)
    plans = await _plans(engine, [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT")])
    assert len(plans) >= 15
    postgresql = engine.dialect.name == "postgresql"
    assert {statement: whole for statement, lines in plans if (whole := reads_whole(lines, postgresql))} == {}


async def test_the_paging_metrics_count_index_entries_not_rows(engine):
    """Pages and acknowledgements are the most numerous rows of the 90 days: their statements read
    indexes alone (SQLite's plans say so; PostgreSQL chooses by its statistics), and the pages
    skipped for want of configuration come from their partial index, not from every skipped page's
    row (what made the metrics at 100,000 incidents take 300 ms)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner has no statistics: its plans are fixed by the indexes; PostgreSQL's are not")
    with sent_by(engine) as sent:
        async with session_factory(engine)() as session:
            await compute(session, NOW)
    plans = await _plans(engine, [(s, p) for s, p in sent if "paging_acks" in s or "page." in str(p)])
    assert len(plans) == 3
    for statement, lines in plans:
        reads = [line for line in lines if re.search(r"\b(SEARCH|SCAN) (outbox|paging_acks)\b", line)]
        assert reads and all("COVERING INDEX" in line or "ix_outbox_unconfigured" in line for line in reads), \
            (statement, lines)
