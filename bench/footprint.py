"""Footprint: time from process start to a healthy /healthz, and resident memory at idle and with
many open incidents, for Beacon and for the baseline bot on the same stack.

    python -m bench.footprint --incidents 10000

Targets: Beacon healthy in under 2 s, and under 200 MB resident with 10,000 open incidents.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, free_port, table, wait_healthy, write_result


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def seed(database: str, count: int) -> None:
    """Open incidents with armed timers, written straight into the schema Beacon migrates."""
    from sqlalchemy import insert

    from services.store.db import create_engine, migrate
    from services.store.tables import IncidentRow, TimerRow

    engine = create_engine(database)
    await migrate(engine)
    now = datetime.now(UTC)
    person: dict[str, Any] = {"aad_object_id": "bench", "name": "Bench", "user_id": None}
    rows: list[dict[str, Any]] = [
        dict(version=1, title=f"Bench incident {i}", description="", impact="low", urgency="low",
                 priority="P5", status="investigating", service="", client="", source="bench",
                 declared_by=person, declared_at=now, commander=None, responders=[], resolution_summary="",
                 config_version="bench", last_update_at=now, next_update_due=now + timedelta(hours=3))
            for i in range(count)]
    async with engine.begin() as connection:
        for start in range(0, count, 1000):
            result = await connection.execute(insert(IncidentRow).returning(IncidentRow.id), rows[start:start + 1000])
            ids = [r[0] for r in result]
            await connection.execute(insert(TimerRow), [
                {"incident_id": i, "kind": "responders", "phase": "due", "due_at": now + timedelta(hours=3),
                 "sequence": 1} for i in ids])
    await engine.dispose()


def measure(which: str, database: str, settle: float) -> dict[str, float]:
    port = free_port()
    command = [sys.executable, "-m", "bench.serve", which, "--port", str(port), "--database", database]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        asyncio.run(wait_healthy(f"http://127.0.0.1:{port}", process))
        ready = time.perf_counter() - start
        time.sleep(settle)
        return {"start_to_healthz_s": ready, "rss_mb": rss_mb(process.pid)}
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before reading memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty, full = f"sqlite+aiosqlite:///{tmp}/empty.db", f"sqlite+aiosqlite:///{tmp}/full.db"
        asyncio.run(seed(full, args.incidents))
        result = {"baseline": measure("baseline", empty, args.settle),
                  "beacon_idle": measure("beacon", empty, args.settle),
                  f"beacon_{args.incidents}_incidents": measure("beacon", full, args.settle)}
    rows = [("", "start→healthz s", "RSS MB")]
    rows += [(name, f"{r['start_to_healthz_s']:.2f}", f"{r['rss_mb']:.0f}") for name, r in result.items()]
    print(table(rows))
    base = result["baseline"]
    ratios = {name: {"start_ratio": r["start_to_healthz_s"] / base["start_to_healthz_s"],
                     "rss_ratio": r["rss_mb"] / base["rss_mb"]} for name, r in result.items() if name != "baseline"}
    for name, r in ratios.items():
        print(f"{name}: start {r['start_ratio']:.2f}× baseline, memory {r['rss_ratio']:.2f}× baseline")
    print("targets: Beacon start under 2 s, under 200 MB with 10,000 incidents")
    print(f"wrote {write_result('footprint', {'benchmark': 'footprint', **result, 'ratios': ratios})}")


if __name__ == "__main__":
    main()
