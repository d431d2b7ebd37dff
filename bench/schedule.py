"""The schedule at scale: many open incidents with second-long update cadences. Measures how late
each due update is (p50, p99, max), that each is fired exactly once, and CPU use while nothing is
due.

    python -m bench.schedule --incidents 10000 --cadence 10 --seconds 30

Targets: p99 lateness under 1 s; near-zero CPU while idle. Lateness is read back from the
timeline (each reminder records when it was due and when it fired).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.common import ROOT, free_port, percentile, table, wait_healthy, write_result
from tests.fakes.connector import FakeConnector


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_config(path: Path, cadence: int) -> None:
    path.write_text(f"communications:\n  responder_update_high: PT{cadence}S\n  responder_update_other: PT{cadence}S\n"
                    f"  stakeholder_update: PT24H\n  grace: PT{max(1, cadence // 2)}S\n  late_after: PT5S\n")


async def seed(database: str, count: int, spread: float, service_url: str, warmup: float) -> None:
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


async def lateness(database: str) -> dict[str, Any]:
    from services.store.db import create_engine
    from services.store.tables import TimelineRow

    engine = create_engine(database)
    async with engine.connect() as connection:
        rows = (await connection.execute(select(TimelineRow.incident_id, TimelineRow.at, TimelineRow.after)
                                         .where(TimelineRow.kind == "update_reminder"))).all()
    await engine.dispose()
    late = [(at.replace(tzinfo=UTC) - datetime.fromisoformat(after["due_at"])).total_seconds() for _, at, after in rows]
    fired = Counter((incident, after["sequence"]) for incident, _, after in rows)
    return {"fired": len(rows), "duplicates": sum(n - 1 for n in fired.values() if n > 1),
            "p50_s": percentile(late, 50), "p99_s": percentile(late, 99), "max_s": max(late, default=float("nan"))}


def run_server(database: str, config: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BEACON_CONFIG": str(config), "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "bench.serve", "beacon", "--port", str(port),
                                "--database", database], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process, f"http://127.0.0.1:{port}"


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "beacon.yaml"
        write_config(config, args.cadence)
        database = args.database or f"sqlite+aiosqlite:///{tmp}/schedule.db"
        async with FakeConnector() as teams:
            await seed(database, args.incidents, args.cadence, teams.url, args.warmup)
            process, url = run_server(database, config)
            try:
                await wait_healthy(url, process)
                await asyncio.sleep(args.seconds)
            finally:
                process.terminate()
                await asyncio.to_thread(process.wait, 60)  # the fake connector lives on this loop
            busy = await lateness(database)
        idle_db = f"sqlite+aiosqlite:///{tmp}/idle.db"
        write_config(config, 3600)
        async with FakeConnector() as teams:
            await seed(idle_db, args.incidents, 3600, teams.url, 3600)  # nothing due for an hour
            process, url = run_server(idle_db, config)
            try:
                await wait_healthy(url, process)
                await asyncio.sleep(2)
                before, started = cpu_seconds(process.pid), time.perf_counter()
                await asyncio.sleep(args.idle_seconds)
                idle_cpu = (cpu_seconds(process.pid) - before) / (time.perf_counter() - started)
            finally:
                process.terminate()
                await asyncio.to_thread(process.wait, 60)  # the fake connector lives on this loop
    return {"benchmark": "schedule", "incidents": args.incidents, "cadence_s": args.cadence, **busy,
            "idle_cpu_fraction": idle_cpu, "targets": {"p99_s": "< 1", "idle_cpu_fraction": "near 0"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--cadence", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=8, help="seconds before the first update is due")
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(table([("fired", "duplicates", "p50 s", "p99 s", "max s", "idle CPU"),
                 (str(result["fired"]), str(result["duplicates"]), f"{result['p50_s']:.3f}", f"{result['p99_s']:.3f}",
                  f"{result['max_s']:.3f}", f"{result['idle_cpu_fraction']:.1%}")]))
    print(f"targets: p99 lateness < 1 s, idle CPU near 0  [{args.incidents} incidents, PT{args.cadence}S]")
    print(f"wrote {write_result('schedule', result)}")


if __name__ == "__main__":
    main()
