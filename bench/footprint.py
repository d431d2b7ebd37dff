"""Footprint: time from process start to a healthy /healthz, and resident memory, for Beacon and
for the baseline bot on the same stack.

    python -m bench.footprint --incidents 100000 [--open 1000]

Beacon is measured idle on an empty database, then with `--incidents` stored (`--open` of them
open with armed update timers, the rest resolved over the last 90 days): once idle, and once after
it has served what a busy day asks of it: `@Beacon metrics` in a channel (answered through the fake
Bot Connector, in its own process), a `/metrics` scrape, and a post-incident report as HTML (with
its chart) and as PDF.

Targets: Beacon healthy in under 2 s, and under 200 MB resident with 100,000 incidents stored, after
the metrics and a report were served.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, free_port, server, start_server, table, wait_healthy, write_result


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def seed(database: str, count: int, *, open_count: int | None = None) -> None:
    """Incidents written straight into the schema Beacon migrates: `open_count` (all by default) open
    with armed timers, the rest resolved, declared over the last 90 days."""
    from sqlalchemy import insert

    from services.store.db import create_engine, migrate
    from services.store.tables import IncidentRow, TimerRow

    engine = create_engine(database)
    await migrate(engine)
    now = datetime.now(UTC)
    person: dict[str, Any] = {"aad_object_id": "bench", "name": "Bench", "user_id": None}
    opened = count if open_count is None else min(open_count, count)
    priorities = ("P1", "P2", "P3", "P4", "P5")

    def row(i: int) -> dict[str, Any]:
        if i < count - opened:  # resolved, spread over the last 90 days
            declared = now - timedelta(days=90) + timedelta(seconds=(i * 7_776_000 // max(count, 1)) % 7_776_000)
            declared = min(declared, now - timedelta(hours=4))
            return dict(version=6, title=f"Bench incident {i}", description="Payments failing for some users",
                        impact="high", urgency="high", priority=priorities[i % 5], status="resolved", service="",
                        client="", source="bench", declared_by=person, declared_at=declared,
                        acknowledged_at=declared + timedelta(minutes=3), commander=person, responders=[person],
                        resolved_at=declared + timedelta(hours=2), resolution_summary="Rolled back the release",
                        config_version="bench", last_update_at=declared + timedelta(hours=2), next_update_due=None)
        return dict(version=1, title=f"Bench incident {i}", description="", impact="low", urgency="low",
                    priority="P5", status="investigating", service="", client="", source="bench",
                    declared_by=person, declared_at=now, commander=None, responders=[], resolution_summary="",
                    config_version="bench", last_update_at=now, next_update_due=now + timedelta(hours=3))

    async with engine.begin() as connection:
        for start in range(0, count, 1000):
            batch = [row(i) for i in range(start, min(start + 1000, count))]
            for keys in {tuple(sorted(r)) for r in batch}:  # one INSERT per shape of row
                same = [r for r in batch if tuple(sorted(r)) == keys]
                result = await connection.execute(insert(IncidentRow).returning(IncidentRow.id), same)
                ids = [r[0] for r in result]
                if same[0]["status"] != "resolved":
                    await connection.execute(insert(TimerRow), [
                        {"incident_id": i, "kind": "responders", "phase": "due",
                         "due_at": now + timedelta(hours=3), "sequence": 1} for i in ids])
    await engine.dispose()


REPORT_SECRET = "bench-footprint-report-link-secret-0123456789"


async def serve_a_busy_day(url: str, connector: str) -> dict[str, float]:
    """What a day of use asks: `@Beacon metrics`, a /metrics scrape, a report as HTML and as PDF.
    Returns how long each took (seconds); raises if any was refused."""
    import aiohttp

    from services.review.links import ReportLinks
    from tests.teams_activities import channel_message, installation_update

    took: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        async def timed(name: str, method: str, path: str, **kwargs: Any) -> None:
            start = time.perf_counter()
            async with session.request(method, url + path, **kwargs) as response:
                body = await response.read()
                if response.status >= 300:
                    raise RuntimeError(f"{name}: {response.status} {body[:300]!r}")
            took[name] = time.perf_counter() - start

        await timed("install", "POST", "/api/messages", json=installation_update(service_url=connector))
        await timed("metrics_command", "POST", "/api/messages", json=channel_message("metrics", service_url=connector))
        await timed("metrics_scrape", "GET", "/metrics")
        links = ReportLinks(REPORT_SECRET, url, timedelta(hours=1))
        for fmt in ("html", "pdf"):
            link = links.url(1, datetime.now(UTC), fmt="" if fmt == "html" else fmt)
            await timed(f"report_{fmt}", "GET", link.removeprefix(url))
    return took


def measure(which: str, database: str, settle: float, *, connector: str = "") -> dict[str, Any]:
    """Start `which`, time it to a healthy /healthz, optionally serve a busy day (Beacon, given the
    fake connector's URL), let it settle and read its resident memory."""
    port = free_port()
    command = [sys.executable, "-m", "bench.serve", which, "--port", str(port), "--database", database]
    start = time.perf_counter()
    process = start_server(command, {**os.environ, "PYTHONPATH": str(ROOT), "REPORT_LINK_SECRET": REPORT_SECRET})
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_healthy(url, process))
        ready = time.perf_counter() - start
        served = asyncio.run(serve_a_busy_day(url, connector + "/")) if connector else {}
        time.sleep(settle)
        return {"start_to_healthz_s": ready, "rss_mb": rss_mb(process.pid), "served_s": served}
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=1_000, help="how many of the stored incidents are open")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before reading memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty, full = f"sqlite+aiosqlite:///{tmp}/empty.db", f"sqlite+aiosqlite:///{tmp}/full.db"
        asyncio.run(seed(full, args.incidents, open_count=args.open))
        stored = f"beacon_{args.incidents}_incidents"
        result = {"baseline": measure("baseline", empty, args.settle),
                  "beacon_idle": measure("beacon", empty, args.settle),
                  stored: measure("beacon", full, args.settle)}
        with server("connector") as connector:
            result[f"{stored}_after_metrics_and_report"] = measure("beacon", full, args.settle, connector=connector)
    rows = [("", "start→healthz s", "RSS MB", "served (s)")]
    rows += [(name, f"{r['start_to_healthz_s']:.2f}", f"{r['rss_mb']:.0f}",
              ", ".join(f"{k} {v:.2f}" for k, v in r["served_s"].items())) for name, r in result.items()]
    print(table(rows))
    base = result["baseline"]
    ratios = {name: {"start_ratio": r["start_to_healthz_s"] / base["start_to_healthz_s"],
                     "rss_ratio": r["rss_mb"] / base["rss_mb"]} for name, r in result.items() if name != "baseline"}
    for name, r in ratios.items():
        print(f"{name}: start {r['start_ratio']:.2f}× baseline, memory {r['rss_ratio']:.2f}× baseline")
    print(f"targets: Beacon start under 2 s, under 200 MB with {args.incidents:,} incidents stored after the "
          "metrics and a report were served")
    print(f"wrote {write_result('footprint', {'benchmark': 'footprint', **result, 'ratios': ratios})}")


if __name__ == "__main__":
    main()
