"""Metrics under history: /metrics latency with many resolved incidents stored, and /healthz latency
measured at the same time (a probe of event-loop stalls: a scrape that held the loop would show
here), for Beacon in its own process.

    python -m bench.metrics --incidents 3000 100000 --database sqlite

Targets: /metrics p99 under 150 ms with 3,000 and with 100,000 incidents, and no /healthz answer
slower than 50 ms while metrics are asked.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bench.common import fresh_database_outside_a_loop, latency_summary, server, table, write_result


async def seed(database: str, count: int) -> None:
    """Resolved incidents of the last 90 days with their mitigation, resolution and one status
    update each, written straight into the schema Beacon migrates."""
    from sqlalchemy import insert

    from services.store.db import create_engine, migrate
    from services.store.tables import IncidentRow, TimelineRow

    engine = create_engine(database)
    await migrate(engine)
    now = datetime.now(UTC)
    person: dict[str, Any] = {"aad_object_id": "bench", "name": "Bench", "user_id": None}
    async with engine.begin() as connection:
        for start in range(0, count, 1000):
            rows: list[dict[str, Any]] = []
            for n in range(start, min(count, start + 1000)):
                declared = now - timedelta(days=89) * (n / count)
                rows.append(dict(version=3, title=f"Bench incident {n}", description="", impact="high", urgency="high",
                                 priority=f"P{n % 5 + 1}", status="resolved", service="", client="", source="bench",
                                 declared_by=person, declared_at=declared, commander=None, responders=[],
                                 acknowledged_at=declared + timedelta(minutes=5), resolution_summary="",
                                 resolved_at=declared + timedelta(hours=2), config_version="bench"))
            ids = [r[0] for r in await connection.execute(insert(IncidentRow).returning(IncidentRow.id), rows)]
            events = []
            for incident_id, row in zip(ids, rows, strict=True):
                at = row["declared_at"]
                events += [
                    dict(incident_id=incident_id, at=at + timedelta(hours=1), kind="status_changed", actor=person,
                         summary="monitoring", after={"status": "monitoring"}, incident_version=2),
                    dict(incident_id=incident_id, at=at + timedelta(minutes=30), kind="status_update", actor=person,
                         summary="update", after={"automatic": False, "late": False}, incident_version=2),
                    dict(incident_id=incident_id, at=at + timedelta(hours=2), kind="resolved", actor=person,
                         summary="resolved", after={"status": "resolved"}, incident_version=3)]
            await connection.execute(insert(TimelineRow), events)
    if engine.dialect.name == "postgresql":
        # The seed writes in a minute what a deployment writes in 90 days, while autovacuum keeps
        # up: vacuum and analyze once, as autovacuum would have by then.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("VACUUM ANALYZE")
    await engine.dispose()


async def ask(url: str, requests: int) -> dict[str, Any]:
    """Ask /metrics `requests` times, one after another, while /healthz is probed every 10 ms."""
    metrics: list[float] = []
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
        for _ in range(requests):
            begun = time.perf_counter()
            async with session.get(url + "/metrics") as response:
                await response.read()
                assert response.status == 200, response.status
            metrics.append(time.perf_counter() - begun)
        elapsed = time.perf_counter() - started
        asking = False
        await prober
    return {"metrics": latency_summary(metrics, elapsed),
            "healthz": {**latency_summary(probes, elapsed), "max_ms": max(probes) * 1000 if probes else 0.0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, nargs="+", default=[3000, 100_000])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a SQLAlchemy URL")
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.incidents:
            with fresh_database_outside_a_loop(args.database, tmp, f"metrics{count}") as url:
                asyncio.run(seed(url, count))
                with server("beacon", url) as beacon:
                    asyncio.run(ask(beacon, 3))  # warm-up: first connections, first plans
                    results[str(count)] = asyncio.run(ask(beacon, args.requests))
    rows = [("incidents", "/metrics p50 ms", "/metrics p99 ms", "/healthz p99 ms", "/healthz max ms")]
    rows += [(count, f"{r['metrics']['p50_ms']:.1f}", f"{r['metrics']['p99_ms']:.1f}",
              f"{r['healthz']['p99_ms']:.1f}", f"{r['healthz']['max_ms']:.1f}") for count, r in results.items()]
    print(f"database: {args.database}")
    print(table(rows))
    print("targets: /metrics p99 under 150 ms, /healthz under 50 ms while metrics are asked")
    name = args.name or f"metrics-{args.database if args.database in ('sqlite', 'postgresql') else 'url'}"
    print(f"wrote {write_result(name, {'benchmark': 'metrics', 'database': args.database, 'results': results})}")


if __name__ == "__main__":
    main()
