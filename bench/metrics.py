"""Metrics under history: /metrics latency with many incidents stored, then that of `@Beacon metrics`
(the chat command, as Teams sends it: a channel message mentioning Beacon, through /api/messages,
answered by a card Beacon posts to a fake Bot Connector in its own process), each with /healthz
latency measured at the same time (a probe of event-loop stalls: an answer that held the loop would
show here), for Beacon in its own process; and what the database's incident-facts triggers add to
a write.

    python -m bench.metrics --incidents 3000 100000 --database sqlite

The incidents are a mix of the last `--days` (300: a deployment's day 300, most of its history
older than the metrics' 90-day window), written the way Beacon writes them, each change in turn, so
the triggers (migration 0029_incident_facts) keep the facts and their daily sums as they would in a
deployment: declared open, then acknowledged, status updates, mitigated, resolved, and some
re-assessed to another priority (some stay open, acknowledged or only mitigated). Each incident
also leaves what its handling leaves behind (`history`): its outbox rows (the card, its updates,
thread notes, email, SMS and pages: about a dozen, nearly all sent long ago), its acknowledgement's
paging row, escalations on its timeline, and the Freshdesk tickets of some. On SQLite nothing is
run after the seed. On PostgreSQL the seeded database is then vacuumed and analysed once
(VACUUM (ANALYZE)): the seed writes 300 days in a minute or two, and a deployment's autovacuum
(on by default) would have vacuumed those days many times over by day 300; without it the visibility
map of every page the seed wrote is unset, so each index-only count reads the rows as well, and the
planner has no statistics. The run says whether the server's own autovacuum is on.

Then the write cost of the triggers: `--changes` incident changes (a declaration, an
acknowledgement, a status update, a re-assessment, in turn), one transaction each, timed with the
triggers, and again after dropping them, on the same database.

Targets: /metrics and `@Beacon metrics` p99 under 150 ms with 3,000 and with 100,000 incidents, and
no /healthz answer slower than 50 ms while metrics are asked.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bench.common import fresh_database_outside_a_loop, latency_summary, server, table, write_result
from tests.teams_activities import channel_message, installation_update

PERSON: dict[str, Any] = {"aad_object_id": "bench", "name": "Bench", "user_id": None}
BATCH = 1000
WRITERS = 4  # transactions writing at once during the seed, as a deployment's connections do
# What becomes of incident n, by n % 10: open, acknowledged, mitigated, else resolved, for those
# declared in the last STILL_OPEN (older ones are all resolved, as in a deployment); 4 and 9 are
# re-assessed to another priority.
OPEN, ACKNOWLEDGED, MITIGATED, RESOLVED = 0, 1, 2, 3
STILL_OPEN = timedelta(days=2)
REASSESSED = (4, 9)
METRICS_CARD = "Response metrics"  # the title of the card `@Beacon metrics` answers with
# The triggers of migration 0029_incident_facts, dropped to time the same writes without them.
TRIGGERS = {"sqlite": ["DROP TRIGGER incident_fact_days_changed", "DROP TRIGGER incident_fact_days_added",
                       "DROP TRIGGER incident_facts_status_update", "DROP TRIGGER incident_facts_mitigated",
                       "DROP TRIGGER incident_facts_changed", "DROP TRIGGER incident_facts_declared"],
            "postgresql": ["DROP TRIGGER incident_fact_days ON incident_facts",
                           "DROP TRIGGER incident_facts_timeline ON timeline_events",
                           "DROP TRIGGER incident_facts_changed ON incidents",
                           "DROP TRIGGER incident_facts_declared ON incidents"]}


def declared(n: int, declared_at: datetime) -> dict[str, Any]:
    return dict(version=1, title=f"Bench incident {n}", description="", impact="high", urgency="high",
                priority=f"P{n % 5 + 1}", status="investigating", service="", client="", source="bench",
                declared_by=PERSON, declared_at=declared_at, commander=None, responders=[],
                resolution_summary="", config_version="bench")


# An incident's outbox rows, by kind, as its handling leaves them: the thread's card and its
# redraws, notes, the stakeholder email and SMS, and the pages of its escalation.
POSTS = (("teams.post_card", 1), ("teams.update_card", 6), ("teams.thread_note", 2), ("email.send", 1),
         ("sms.send", 1), ("page.teams", 1), ("page.sms", 1))


def history(n: int, incident_id: int, at: datetime, stage: int) -> dict[str, list[dict[str, Any]]]:
    """What incident n's handling leaves beside its changes: outbox rows (sent; a page not needed
    once acknowledged is skipped, one in fifty SMS failed, a still-open incident's last update
    pending), its acknowledgement's paging row, an escalation for one in four, and two Freshdesk
    tickets for one in five."""
    outbox = []
    for kind, times in POSTS:
        for i in range(times):
            created = at + timedelta(minutes=5 * i + 1)
            status = ("skipped" if kind == "page.sms" and n % 3 else "failed" if kind == "sms.send" and n % 50 == 0
                      else "pending" if stage == OPEN and kind == "teams.update_card" and i == times - 1 else "sent")
            outbox.append(dict(kind=kind, idempotency_key=f"bench:{n}:{kind}:{i}",
                               ordering_key=f"incident:{incident_id}:{kind.split('.')[0]}", incident_id=incident_id,
                               payload=payload(kind, incident_id, status), status=status, attempts=1, next_attempt_at=created, created_at=created,
                               done_at=None if status == "pending" else created + timedelta(seconds=1),
                               last_error="not needed" if status == "skipped" else ""))
    acks = [] if stage == OPEN else [dict(incident_id=incident_id, at=at + timedelta(minutes=n % 7 + 2), service="",
                                          priority=f"P{n % 5 + 1}", level=1 + n % 4 // 3, via="card",
                                          seconds=60.0 * (n % 7 + 2))]
    escalations = [event(incident_id, at + timedelta(minutes=5), "escalated", to_level=2)] if n % 4 == 3 else []
    tickets = [dict(incident_id=incident_id, ticket_id=n * 10 + i, url="", role=role, state="linked",
                    created_at=at + timedelta(minutes=i)) for i, role in enumerate(("created", "reported"))
               ] if n % 5 == 0 else []
    return {"outbox": outbox, "acks": acks, "timeline": escalations, "tickets": tickets}


def payload(kind: str, incident_id: int, status: str) -> dict[str, Any]:
    """What Beacon's outbox worker reads of a row it still has to deliver (a pending card redraw); a
    row already done is never read again."""
    return {"incident_id": incident_id, "description": "card refresh"} if status == "pending" else {}


def event(incident_id: int, at: datetime, kind: str, **after: Any) -> dict[str, Any]:
    return dict(incident_id=incident_id, at=at, kind=kind, actor=PERSON, summary=kind, after=after,
                incident_version=2)


async def seed(database: str, count: int, days: int = 300) -> float:
    """`count` incidents of the last `days`, each change its own statement (in batches of
    BATCH incidents per transaction, WRITERS transactions at once), so the triggers run for each.
    Returns the seconds it took."""
    from sqlalchemy import bindparam, insert, update

    from services.store.db import create_engine, migrate
    from services.intake.tables import TicketLinkRow
    from services.paging.metrics import PageAckRow
    from services.store.tables import IncidentRow, OutboxRow, TimelineRow

    engine = create_engine(database)
    await migrate(engine)
    now = datetime.now(UTC)
    incidents = IncidentRow.__table__
    by_id = incidents.c.id == bindparam("incident")
    acknowledge = update(incidents).where(by_id).values(acknowledged_at=bindparam("at"), version=2)
    resolve = update(incidents).where(by_id).values(status="resolved", resolved_at=bindparam("at"), version=3)
    mitigate = update(incidents).where(by_id).values(status="monitoring")
    reassess = update(incidents).where(by_id).values(priority=bindparam("new_priority"))

    async def write(numbers: list[int]) -> None:
        times = {n: now - timedelta(days=days - 1) * (n / count) for n in numbers}
        stage = {n: n % 10 if times[n] > now - STILL_OPEN else RESOLVED for n in numbers}
        async with engine.begin() as connection:

            async def many(statement: Any, rows: list[dict[str, Any]]) -> None:
                if rows:
                    await connection.execute(statement, rows)

            ids = dict(zip(numbers, [r[0] for r in await connection.execute(
                insert(IncidentRow).returning(IncidentRow.id, sort_by_parameter_order=True),
                [declared(n, times[n]) for n in numbers])], strict=True))
            await many(acknowledge, [
                {"incident": ids[n], "at": times[n] + timedelta(minutes=n % 7 + 2)} for n in numbers if stage[n] != OPEN])
            await many(insert(TimelineRow), [
                event(ids[n], times[n] + timedelta(minutes=30), "status_update", automatic=n % 4 == 0,
                      late=n % 4 == 1) for n in numbers])
            await many(insert(TimelineRow), [
                event(ids[n], times[n] + timedelta(minutes=40 + n % 50), "status_changed", status="monitoring")
                for n in numbers if stage[n] not in (OPEN, ACKNOWLEDGED)])
            await many(mitigate, [{"incident": ids[n]} for n in numbers if stage[n] == MITIGATED])
            resolved = [n for n in numbers if stage[n] not in (OPEN, ACKNOWLEDGED, MITIGATED)]
            await many(insert(TimelineRow), [
                event(ids[n], times[n] + timedelta(minutes=90), "status_update", automatic=False, late=n % 3 == 0)
                for n in resolved])
            await many(resolve, [{"incident": ids[n], "at": times[n] + timedelta(hours=2)} for n in resolved])
            await many(insert(TimelineRow), [
                event(ids[n], times[n] + timedelta(hours=2), "resolved", status="resolved") for n in resolved])
            await many(reassess, [{"incident": ids[n], "new_priority": f"P{(n + 1) % 5 + 1}"}
                                  for n in numbers if n % 10 in REASSESSED])
            left = [history(n, ids[n], times[n], stage[n]) for n in numbers]
            for table, rows in (("outbox", OutboxRow), ("acks", PageAckRow), ("timeline", TimelineRow),
                                ("tickets", TicketLinkRow)):
                await many(insert(rows), [row for h in left for row in h[table]])

    # Each batch spans the days (the incidents in a shuffled order), so each day is written by
    # several writers.
    order = list(range(count))
    random.Random(count).shuffle(order)
    batches = [order[start:start + BATCH] for start in range(0, count, BATCH)]
    started = time.perf_counter()
    for first in range(0, len(batches), WRITERS):
        await asyncio.gather(*(write(batch) for batch in batches[first:first + WRITERS]))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


async def as_autovacuum_would_have(database: str) -> str:
    """On PostgreSQL, VACUUM (ANALYZE) the seeded database once (see the module's docstring);
    returns the server's autovacuum setting. Nothing on SQLite."""
    from sqlalchemy import text

    from services.store.db import create_engine

    engine = create_engine(database)
    try:
        if engine.dialect.name != "postgresql":
            return ""
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM runs outside a transaction
            autovacuum = str(await connection.scalar(text("SHOW autovacuum")))
            await connection.execute(text("VACUUM (ANALYZE)"))
        return autovacuum
    finally:
        await engine.dispose()


async def write_cost(database: str, changes: int) -> dict[str, float]:
    """Seconds for `changes` incident changes, one transaction each, with the triggers and then
    without them (dropped), on the seeded database; and their ratio."""
    from sqlalchemy import insert, select, text, update

    from services.store.db import create_engine
    from services.store.tables import IncidentRow, TimelineRow

    engine = create_engine(database)
    now = datetime.now(UTC)
    async with engine.connect() as connection:
        open_ids = [r[0] for r in await connection.execute(
            select(IncidentRow.id).where(IncidentRow.acknowledged_at.is_(None)).order_by(IncidentRow.id.desc())
            .limit(changes))]
        some_ids = [r[0] for r in await connection.execute(
            select(IncidentRow.id).order_by(IncidentRow.id.desc()).limit(2 * changes))]

    async def change(i: int, n: int) -> None:
        async with engine.begin() as connection:
            match i % 4:
                case 0:
                    await connection.execute(insert(IncidentRow), [declared(n, now - timedelta(minutes=n % 600))])
                case 1:
                    await connection.execute(update(IncidentRow).where(IncidentRow.id == open_ids[n % len(open_ids)])
                                             .values(acknowledged_at=now))
                case 2:
                    await connection.execute(insert(TimelineRow), [
                        event(some_ids[n % len(some_ids)], now, "status_update", automatic=False, late=False)])
                case _:
                    await connection.execute(update(IncidentRow).where(IncidentRow.id == some_ids[n % len(some_ids)])
                                             .values(priority=f"P{n % 5 + 1}"))

    async def timed(offset: int) -> float:
        started = time.perf_counter()
        for i in range(changes):
            await change(i, offset + i)
        return time.perf_counter() - started

    with_triggers = await timed(0)
    async with engine.begin() as connection:
        for statement in TRIGGERS[engine.dialect.name]:
            await connection.execute(text(statement))
    without = await timed(changes)
    await engine.dispose()
    return {"changes": changes, "with_triggers_s": with_triggers, "without_triggers_s": without,
            "ratio": with_triggers / without if without else float("nan")}


Ask = Callable[[aiohttp.ClientSession], Awaitable[None]]


async def probed(url: str, requests: int, ask_once: Ask, check: Ask | None = None) -> dict[str, Any]:
    """`ask_once` `requests` times, one after another, while /healthz is probed every 10 ms; `check`,
    if given, after each, outside the timing."""
    asked: list[float] = []
    probes: list[float] = []
    asking = True
    async with aiohttp.ClientSession() as session:

        async def probe() -> None:
            while asking:
                started = time.perf_counter()
                async with session.get(url + "/healthz") as response:
                    await response.read()
                probes.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

        prober = asyncio.ensure_future(probe())
        started = time.perf_counter()
        try:
            for _ in range(requests):
                begun = time.perf_counter()
                await ask_once(session)
                asked.append(time.perf_counter() - begun)
                if check is not None:
                    await check(session)
        finally:
            elapsed = time.perf_counter() - started
            asking = False
            await prober
    return {"asked": latency_summary(asked, elapsed),
            "healthz": {**latency_summary(probes, elapsed), "max_ms": max(probes) * 1000 if probes else 0.0}}


async def ask(url: str, requests: int) -> dict[str, Any]:
    """Scrape /metrics `requests` times, one after another, while /healthz is probed."""

    async def scrape(session: aiohttp.ClientSession) -> None:
        async with session.get(url + "/metrics") as response:
            await response.read()
            assert response.status == 200, response.status

    result = await probed(url, requests, scrape)
    return {"metrics": result["asked"], "healthz": result["healthz"]}


async def install(url: str, connector: str) -> None:
    """Install Beacon in the team, and wait until the roster read at install has landed (until then
    a message in the channel is answered with a request to wait instead of the metrics)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/api/messages", json=installation_update(service_url=connector)) as response:
            assert response.status < 300, await response.text()
        deadline = time.perf_counter() + 30
        while True:
            before = await _metrics_cards(session, connector)
            await _say_metrics(session, url, connector)
            if await _metrics_cards(session, connector) > before:
                return
            if time.perf_counter() > deadline:
                raise RuntimeError("@Beacon metrics was not answered with the metrics card")
            await asyncio.sleep(0.1)


async def _say_metrics(session: aiohttp.ClientSession, url: str, connector: str) -> None:
    """`@Beacon metrics`, as a new post in the incidents channel."""
    activity = channel_message("metrics", service_url=connector)
    async with session.post(url + "/api/messages", json=activity) as response:
        await response.read()
        assert response.status < 300, response.status


async def _metrics_cards(session: aiohttp.ClientSession, connector: str) -> int:
    """How many metrics cards Beacon has posted to the fake connector."""
    async with session.get(connector + "bench/replies", params={"containing": METRICS_CARD}) as response:
        return int((await response.json())["count"])


async def chat(url: str, connector: str, requests: int) -> dict[str, Any]:
    """Send `@Beacon metrics` in the channel `requests` times, one after another, while /healthz is
    probed. Each is timed until /api/messages answers, which is after Beacon posted its card to the
    Bot Connector (the turn sends it); after each, outside the timing, the connector's count of
    metrics cards checks that the card had arrived by then."""
    async with aiohttp.ClientSession() as session:
        seen = [await _metrics_cards(session, connector)]

    async def arrived(session: aiohttp.ClientSession) -> None:
        cards = await _metrics_cards(session, connector)
        assert cards == seen[0] + 1, f"{cards - seen[0]} metrics cards had reached the connector, not 1, " \
                                     "when /api/messages answered"
        seen[0] = cards

    result = await probed(url, requests, lambda session: _say_metrics(session, url, connector), arrived)
    return {"chat": result["asked"], "chat_healthz": result["healthz"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, nargs="+", default=[3000, 100_000])
    parser.add_argument("--days", type=int, default=300, help="the incidents are spread over the last DAYS")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--changes", type=int, default=400, help="incident changes timed for the write cost")
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a SQLAlchemy URL")
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, server("connector") as connector:
        for count in args.incidents:
            with fresh_database_outside_a_loop(args.database, tmp, f"metrics{count}") as url:
                # Installed in the team before the history is stored, as in a deployment: installed
                # after, Beacon would post the card of every open incident stored without a thread
                # (the seeded ones have none) while it is measured.
                with server("beacon", url) as beacon:
                    asyncio.run(install(beacon, connector + "/"))
                seeded = asyncio.run(seed(url, count, args.days))
                autovacuum = asyncio.run(as_autovacuum_would_have(url))
                if autovacuum:
                    print(f"{count} incidents: VACUUM (ANALYZE) after the seed, as autovacuum would have run over "
                          f"{args.days} days (this server's autovacuum: {autovacuum})")
                with server("beacon", url) as beacon:
                    asyncio.run(ask(beacon, 3))  # warm-up: first connections, first plans
                    results[str(count)] = asyncio.run(ask(beacon, args.requests))
                    asyncio.run(chat(beacon, connector + "/", 3))  # and the first chart (loads matplotlib)
                    results[str(count)].update(asyncio.run(chat(beacon, connector + "/", args.requests)))
                results[str(count)]["seed_s"] = seeded
                results[str(count)]["writes"] = asyncio.run(write_cost(url, args.changes))
    rows = [("incidents", "asked", "p50 ms", "p99 ms", "/healthz p99 ms meanwhile", "/healthz max ms")]
    for count, r in results.items():
        for asked, latency, probe in (("/metrics", r["metrics"], r["healthz"]),
                                      ("@Beacon metrics", r["chat"], r["chat_healthz"])):
            rows.append((count, asked, f"{latency['p50_ms']:.1f}", f"{latency['p99_ms']:.1f}",
                         f"{probe['p99_ms']:.1f}", f"{probe['max_ms']:.1f}"))
    writes = [("incidents", "seed s", "changes", "with triggers s", "without s", "write cost ×")]
    writes += [(count, f"{r['seed_s']:.1f}", str(r["writes"]["changes"]), f"{r['writes']['with_triggers_s']:.2f}",
                f"{r['writes']['without_triggers_s']:.2f}", f"{r['writes']['ratio']:.2f}")
               for count, r in results.items()]
    print(f"database: {args.database}, incidents spread over the last {args.days} days")
    print(table(rows))
    print(table(writes))
    print("targets: /metrics and @Beacon metrics p99 under 150 ms, /healthz under 50 ms while they are asked; "
          "write cost: "
          "time for the changes with the incident-facts triggers over the time without them")
    name = args.name or f"metrics-{args.database if args.database in ('sqlite', 'postgresql') else 'url'}"
    summary = {'benchmark': 'metrics', 'database': args.database, 'days': args.days, 'results': results}
    print(f"wrote {write_result(name, summary)}")


if __name__ == "__main__":
    main()
