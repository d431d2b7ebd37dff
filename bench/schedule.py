"""The schedule at scale: many open incidents with second-long update cadences. Measures how late
each due update is (p50, p99, max), that each is fired exactly once and reaches Teams exactly once,
and CPU use while nothing is due.

    python -m bench.schedule --incidents 10000 --cadence 10 --seconds 30 [--database postgresql]

Targets: p99 lateness under 1 s; near-zero CPU while idle.

Each incident's responder update falls due every cadence: Beacon reminds the owner (a firing whose
due time the reminder records on the timeline), and after the grace period posts the update
automatically (a second firing, due one grace after the reminder). Lateness is read back from the
timeline: when each firing was due and when it fired. An update still waiting when the run ends
counts as late by the time it had waited, so a scheduler that falls behind cannot look punctual by
firing less. Deliveries are checked in the fake Teams: every reminder and update the outbox marked
sent arrived exactly once, and how long after its due time it arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.common import (
    POSTGRES_ADMIN,
    ROOT,
    free_port,
    fresh_database,
    percentile,
    start_server,
    table,
    wait_healthy,
    write_result,
)
from tests.fakes.connector import FakeConnector


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def grace_seconds(cadence: int) -> int:
    return max(1, cadence // 2)


def write_config(path: Path, cadence: int) -> None:
    path.write_text(f"communications:\n  responder_update_high: PT{cadence}S\n  responder_update_other: PT{cadence}S\n"
                    f"  stakeholder_update: PT24H\n  grace: PT{grace_seconds(cadence)}S\n  late_after: PT5S\n")


async def seed(database: str, count: int, spread: float, service_url: str, warmup: float) -> datetime:
    """`count` open incidents whose first updates fall due `warmup` seconds from now, spread evenly
    over `spread` seconds; returns when the first is due."""
    from services.store.db import create_engine, migrate
    from services.store.tables import IncidentRow, ThreadRow, TimerRow

    engine = create_engine(database)
    await migrate(engine)
    now = datetime.now(UTC) + timedelta(seconds=warmup)  # first due after the server has started
    person: dict[str, Any] = {"aad_object_id": "bench", "name": "Bench", "user_id": None}
    async with engine.begin() as connection:
        for start in range(0, count, 1000):
            rows: list[dict[str, Any]] = [dict(
                version=1, title=f"Bench {i}", description="", impact="low", urgency="low", priority="P5",
                         status="investigating", service="", client="", source="bench", declared_by=person,
                         declared_at=now, commander=None, responders=[], resolution_summary="",
                         config_version="bench", last_update_at=now) for i in range(start, min(count, start + 1000))]
            ids = [r[0] for r in await connection.execute(insert(IncidentRow).returning(IncidentRow.id), rows)]
            await connection.execute(insert(TimerRow), [
                {"incident_id": i, "kind": "responders", "phase": "due", "sequence": 1,
                 "due_at": now + timedelta(seconds=spread * n / max(1, count))} for n, i in enumerate(ids, start)])
            await connection.execute(insert(ThreadRow), [
                {"incident_id": i, "purpose": "incident", "conversation_id": f"19:bench@thread.tacv2;messageid={i}",
                 "root_activity_id": str(i), "service_url": service_url, "tenant_id": "", "channel_id": ""}
                for i in ids])
    await engine.dispose()
    return now


def _stats(values: list[float], prefix: str) -> dict[str, float]:
    return {f"{prefix}p50_s": percentile(values, 50), f"{prefix}p99_s": percentile(values, 99),
            f"{prefix}max_s": max(values, default=float("nan"))}


async def lateness(database: str, until: datetime | None = None, grace: float | None = None) -> dict[str, Any]:
    """Firings read back from the timeline and the timers left: how late each was, duplicates, and
    (with `until`, the end of the run) the due ones that never fired, counted late by their wait."""
    from services.store.db import create_engine
    from services.store.tables import TimelineRow, TimerRow

    engine = create_engine(database)
    async with engine.connect() as connection:
        rows = (await connection.execute(
            select(TimelineRow.incident_id, TimelineRow.kind, TimelineRow.at, TimelineRow.after)
            .where(TimelineRow.kind.in_(("update_reminder", "status_update"))).order_by(TimelineRow.id))).all()
        waiting = (await connection.execute(select(TimerRow.due_at))).scalars().all()
    await engine.dispose()
    reminders = [(incident, at.replace(tzinfo=UTC), after) for incident, kind, at, after in rows
                 if kind == "update_reminder"]
    late = [(at - datetime.fromisoformat(after["due_at"])).total_seconds() for _, at, after in reminders]
    fired = Counter((incident, after["sequence"]) for incident, _, after in reminders)
    # "fired" and the p50/p99/max without prefix are of the reminders alone (bench.scaling reads them)
    result: dict[str, Any] = {"fired": len(reminders), "duplicates": sum(n - 1 for n in fired.values() if n > 1),
                              **_stats(late, "")}
    if until is None or grace is None:
        return result
    # The automatic update of each reminder falls due one grace period after the reminder fired.
    reminded: dict[int, list[datetime]] = defaultdict(list)
    for incident, at, _ in reminders:
        reminded[incident].append(at)
    automatic = [(incident, at.replace(tzinfo=UTC)) for incident, kind, at, after in rows
                 if kind == "status_update" and (after or {}).get("automatic")]
    seen: Counter[int] = Counter()
    for incident, at in automatic:
        index = seen[incident]
        seen[incident] += 1
        if index < len(reminded[incident]):
            late.append((at - reminded[incident][index] - timedelta(seconds=grace)).total_seconds())
    extra_updates = sum(max(0, seen[i] - len(reminded[i])) for i in seen)
    unfired = [(until - due).total_seconds() for due in waiting if due <= until]
    return {**result, "automatic_fired": len(automatic), "automatic_without_reminder": extra_updates,
            "firings": len(late), "due_unfired_at_end": len(unfired), "due": len(late) + len(unfired),
            **_stats(late, "firing_"), **_stats(late + unfired, "due_")}


UPDATE_NUMBER = re.compile(r"Automatic responders update #(\d+)")


def teams_deliveries(teams: FakeConnector) -> list[tuple[int, str, int | None, datetime]]:
    """(incident, "reminder" or "update", update number, arrival) of every reply Teams accepted."""
    found: list[tuple[int, str, int | None, datetime]] = []
    for request in teams.requests:
        if request.operation != "reply" or not request.delivered or not request.conversation_id:
            continue
        incident = int(request.conversation_id.rsplit("=", 1)[1])
        text = json.dumps(request.body)
        number = UPDATE_NUMBER.search(text)
        if number:
            found.append((incident, "update", int(number.group(1)), request.at))
        elif " is due" in text:
            found.append((incident, "reminder", None, request.at))
    return found


async def deliveries(database: str, teams: FakeConnector) -> dict[str, Any]:
    """The outbox's reminder and update posts against what the fake Teams received: each sent row
    arrived exactly once, and how long after its due time."""
    from services.store.db import create_engine
    from services.store.tables import OutboxRow, TimelineRow

    engine = create_engine(database)
    async with engine.connect() as connection:
        rows = (await connection.execute(select(OutboxRow.idempotency_key, OutboxRow.status, OutboxRow.created_at)
                                         .where(OutboxRow.kind == "teams.thread_card"))).all()
        reminders = (await connection.execute(select(TimelineRow.incident_id, TimelineRow.after)
                                              .where(TimelineRow.kind == "update_reminder"))).all()
    await engine.dispose()
    status = Counter(row.status for row in rows)
    sent: dict[tuple[int, str, int], datetime] = {}
    for key, state, created in rows:
        _, incident_id, kind, _, sequence = key.split(":")
        if state == "sent":
            sent[(int(incident_id), kind, int(sequence))] = created.replace(tzinfo=UTC)
    due = {(incident, int(after["sequence"])): datetime.fromisoformat(after["due_at"])
           for incident, after in reminders}
    arrived: Counter[tuple[int, str, int]] = Counter()
    order: Counter[int] = Counter()
    after_firing, after_due = [], []
    for incident, card, shown, at in sorted(teams_deliveries(teams), key=lambda d: d[3]):
        order[incident] += card == "reminder"  # reminders carry no number: they arrive in order
        number = shown if shown is not None else order[incident]
        arrived[(incident, card, number)] += 1
        fired_at = sent.get((incident, card, number))
        if fired_at is not None:
            after_firing.append((at - fired_at).total_seconds())
        if card == "reminder" and (incident, number) in due:
            after_due.append((at - due[(incident, number)]).total_seconds())
    return {"outbox": dict(status), "sent": len(sent), "arrived": sum(arrived.values()),
            "arrived_twice": sum(n - 1 for n in arrived.values() if n > 1),
            "sent_not_arrived": sum(1 for key in sent if not arrived[key]),
            "arrived_not_sent": sum(1 for key in arrived if key not in sent),
            **_stats(after_firing, "lag_after_firing_"), **_stats(after_due, "reminder_due_to_teams_")}


def run_server(database: str, config: Path, teams_rps: float = 50.0) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BEACON_CONFIG": str(config), "LOG_LEVEL": "WARNING",
           "TEAMS_REQUESTS_PER_SECOND": str(teams_rps)}
    process = start_server([sys.executable, "-m", "bench.serve", "beacon", "--port", str(port),
                            "--database", database], env)
    return process, f"http://127.0.0.1:{port}"


def start_profiler(pid: int, path: str, seconds: float) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--output", path, "--format", "speedscope",
                             "--duration", str(int(seconds)), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def busy_run(args: argparse.Namespace, tmp: str, config: Path) -> dict[str, Any]:
    write_config(config, args.cadence)
    async with fresh_database(args.database, tmp, "busy") as database, FakeConnector() as teams:
        first_due = await seed(database, args.incidents, args.cadence, teams.url, args.warmup)
        servers = [run_server(database, config, args.teams_rps) for _ in range(args.replicas)]
        profiler = None
        try:
            for process, url in servers:
                await wait_healthy(url, process)
            pids = [process.pid for process, _ in servers]
            cpu_before, started = sum(map(cpu_seconds, pids)), time.perf_counter()
            if args.profile:
                profiler = start_profiler(pids[0], args.profile, args.seconds)
            await asyncio.sleep(args.seconds)
            busy_cpu = (sum(map(cpu_seconds, pids)) - cpu_before) / (time.perf_counter() - started)
            until = datetime.now(UTC)
        finally:
            for process, _ in servers:
                process.terminate()
            for process, _ in servers:
                await asyncio.to_thread(process.wait, 60)  # the fake connector lives on this loop
            if profiler is not None:
                await asyncio.to_thread(profiler.wait, 60)
        fired = await lateness(database, until, grace_seconds(args.cadence))
        delivered = await deliveries(database, teams)
    window = max(1e-9, (until - first_due).total_seconds())
    return {**fired, "firings_per_s": fired["firings"] / window, "due_per_s": fired["due"] / window,
            "busy_cpu_fraction": busy_cpu, "teams": {**delivered, "sent_per_s": delivered["sent"] / window}}


async def idle_run(args: argparse.Namespace, tmp: str, config: Path) -> float:
    write_config(config, 3600)
    async with fresh_database(args.database, tmp, "idle") as database, FakeConnector() as teams:
        await seed(database, args.incidents, 3600, teams.url, 3600)  # nothing due for an hour
        process, url = run_server(database, config, args.teams_rps)
        try:
            await wait_healthy(url, process)
            await asyncio.sleep(2)
            before, started = cpu_seconds(process.pid), time.perf_counter()
            await asyncio.sleep(args.idle_seconds)
            return (cpu_seconds(process.pid) - before) / (time.perf_counter() - started)
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 60)  # the fake connector lives on this loop


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "beacon.yaml"
        busy = await busy_run(args, tmp, config)
        idle_cpu = await idle_run(args, tmp, config)
    kind = args.database if args.database in ("sqlite", "postgresql") else args.database.split(":", 1)[0]
    return {"benchmark": "schedule", "database": kind, "replicas": args.replicas, "incidents": args.incidents,
            "cadence_s": args.cadence, "teams_requests_per_second": args.teams_rps, "seconds": args.seconds,
            **busy, "idle_cpu_fraction": idle_cpu,
            "targets": {"due_p99_s": "< 1", "idle_cpu_fraction": "near 0"}}


def report(result: dict[str, Any]) -> str:
    teams = result["teams"]
    return "\n".join([
        table([("due", "fired", "unfired", "fired/s", "dup", "p50 s", "p99 s", "max s", "busy CPU", "idle CPU"),
               (str(result["due"]), str(result["firings"]), str(result["due_unfired_at_end"]),
                f"{result['firings_per_s']:.0f}", str(result["duplicates"] + result["automatic_without_reminder"]),
                f"{result['due_p50_s']:.3f}", f"{result['due_p99_s']:.3f}", f"{result['due_max_s']:.3f}",
                f"{result['busy_cpu_fraction']:.0%}", f"{result['idle_cpu_fraction']:.1%}")]),
        "lateness counts each due firing (reminder and automatic update); one still waiting at the end counts "
        "with its wait",
        table([("posts sent", "sent/s", "in Teams", "twice", "sent, not in Teams", "in Teams, not sent",
                "outbox at end", "due→Teams p50 s", "p99 s"),
               (str(teams["sent"]), f"{teams['sent_per_s']:.0f}", str(teams["arrived"]), str(teams["arrived_twice"]),
                str(teams["sent_not_arrived"]),
                str(teams["arrived_not_sent"]), json.dumps(teams["outbox"]),
                f"{teams['reminder_due_to_teams_p50_s']:.3f}", f"{teams['reminder_due_to_teams_p99_s']:.3f}")]),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--cadence", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=8, help="seconds before the first update is due")
    parser.add_argument("--database", default="sqlite",
                        help=f"sqlite, postgresql (a fresh database on {POSTGRES_ADMIN} [BEACON_TEST_POSTGRES], "
                             "dropped after) or a database URL")
    parser.add_argument("--replicas", type=int, default=1, help="Beacon processes sharing the database (PostgreSQL)")
    parser.add_argument("--teams-rps", type=float, default=50.0,
                        help="TEAMS_REQUESTS_PER_SECOND of each replica (Beacon's default 50, what Teams allows "
                             "an app per tenant); 0 unpaced, to measure the outbox itself")
    parser.add_argument("--profile", default="", help="write a py-spy speedscope profile of the busy run here")
    parser.add_argument("--name", default="", help="result file name (default: schedule)")
    args = parser.parse_args()
    if args.replicas > 1 and args.database == "sqlite":
        parser.error("several replicas need PostgreSQL (--database postgresql)")
    result = asyncio.run(main_async(args))
    print(report(result))
    pace = f"Teams paced at {args.teams_rps:g}/s per replica" if args.teams_rps else "Teams unpaced"
    print(f"targets: p99 lateness < 1 s, idle CPU near 0  [{result['database']} x{args.replicas}, "
          f"{args.incidents} incidents, PT{args.cadence}S, {args.seconds:g} s, {pace}]")
    print(f"wrote {write_result(args.name or 'schedule', result)}")


if __name__ == "__main__":
    main()
