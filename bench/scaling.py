"""Scaling: each benchmark with 1,000 and then 10,000 open incidents in Beacon's database, the
growth of its numbers (10k / 1k) and a verdict: flat, linear or worse than linear.

    python -m bench.scaling [--quick] [--sizes 1000 10000] [--database postgresql]

The scale variable is the number of open incidents already stored, because that is what grows in
a real deployment and what a missing index or an N+1 query would be paid for:
  alert_storm   the storm (--storm-alerts over --storm-fingerprints) into a database already
                holding N open incidents, each with a firing alert of its own
  card_actions  the benchmark's own clicks, with N other open incidents stored
  schedule      --busy incidents with updates due every 10 s (2 s with --quick) among N open incidents (the rest due
                in an hour), so the work per second stays the same; and idle CPU with N stored
  footprint     start time and resident memory with N stored
Per-operation numbers (latency, cost per alert or click, lateness, idle CPU, start time) should
stay flat: if one grew linearly, every operation would scan the incidents and the total work
would grow quadratically. Memory may grow linearly. Costs are divided by the baseline measured in
the same run (the floor, the baseline bot) where there is one, so machine noise cancels.
--quick: 100 and 1,000 incidents and short runs (about 2 minutes instead of 4-5 on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import alert_storm, card_actions, footprint, schedule
from bench.common import server, table, wait_healthy, write_result
from tests.fakes.connector import FakeConnector

Metrics = dict[str, float]
FLAT_BELOW = 0.25  # growth exponent: 10x the incidents, under 1.8x the number
LINEAR_UP_TO = 1.25


def run_alert_storm(incidents: int, args: argparse.Namespace) -> Metrics:
    result = alert_storm.run(args.database, args.storm_alerts, args.storm_fingerprints, 20, 4, incidents,
                             post_wait=0)  # its first-post latency is not compared here
    if not result["correct"]:
        raise SystemExit(f"alert storm with {incidents} incidents: deduplication not exact: {result['stored']}")
    return {"cost per alert ÷ floor's": 1 / result["throughput_ratio"], "p99 ÷ floor's": result["p99_ratio"],
            "p50 ms": result["beacon"]["p50_ms"]}


def run_card_actions(incidents: int, args: argparse.Namespace) -> Metrics:
    with tempfile.TemporaryDirectory() as tmp, alert_storm.databases(args.database, tmp) as (database, _):
        asyncio.run(footprint.seed(database, incidents))
        with server("connector") as connector, server("beacon", database) as beacon, server("baseline") as baseline:
            summary = asyncio.run(card_actions.measure(beacon, baseline, 20, args.seconds, 2,
                                                       connector=connector + "/", database=database))
    b, base = summary["beacon"], summary["baseline"]
    if b["errors"]:
        raise SystemExit(f"card actions with {incidents} incidents: {b['errors']} errors")
    return {"cost per click ÷ baseline's": base["throughput_rps"] / b["throughput_rps"],
            "p99 ÷ baseline's": b["p99_ms"] / base["p99_ms"], "p50 ms": b["p50_ms"]}


def run_schedule(incidents: int, args: argparse.Namespace) -> Metrics:
    return asyncio.run(_schedule(incidents, min(args.busy, incidents), args))


async def _schedule(incidents: int, busy: int, args: argparse.Namespace) -> Metrics:
    cadence, warmup = (2, 4) if args.quick else (10, 6)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "beacon.yaml"
        schedule.write_config(config, cadence)
        database, idle_db = f"sqlite+aiosqlite:///{tmp}/busy.db", f"sqlite+aiosqlite:///{tmp}/idle.db"
        async with FakeConnector() as teams:
            await schedule.seed(database, busy, cadence, teams.url, warmup)
            await schedule.seed(database, incidents - busy, 3600, teams.url, 3600)
            await schedule.seed(idle_db, incidents, 3600, teams.url, 3600)
            process, url = schedule.run_server(database, config)
            try:
                await wait_healthy(url, process)
                await asyncio.sleep(warmup + 2 * cadence)  # every busy incident due at least twice
            finally:
                process.terminate()
                await asyncio.to_thread(process.wait, 60)  # the fake connector lives on this loop
            late = await schedule.lateness(database)
            process, url = schedule.run_server(idle_db, config)
            try:
                await wait_healthy(url, process)
                await asyncio.sleep(2)
                before, started = schedule.cpu_seconds(process.pid), time.perf_counter()
                await asyncio.sleep(args.seconds)
                idle = (schedule.cpu_seconds(process.pid) - before) / (time.perf_counter() - started)
            finally:
                process.terminate()
                await asyncio.to_thread(process.wait, 60)
    if late["duplicates"] or not late["fired"]:
        raise SystemExit(f"schedule with {incidents} incidents: {late}")
    return {"p99 lateness s": late["p99_s"], "idle CPU %": 100 * idle}


def run_footprint(incidents: int, args: argparse.Namespace) -> Metrics:
    with tempfile.TemporaryDirectory() as tmp:
        empty, full = f"sqlite+aiosqlite:///{tmp}/empty.db", f"sqlite+aiosqlite:///{tmp}/full.db"
        asyncio.run(footprint.seed(full, incidents))
        base = footprint.measure("baseline", empty, args.settle)
        beacon = footprint.measure("beacon", full, args.settle)
    return {"start ÷ baseline's": beacon["start_to_healthz_s"] / base["start_to_healthz_s"],
            "RSS MB": beacon["rss_mb"]}


BENCHES: dict[str, Callable[[int, argparse.Namespace], Metrics]] = {
    "alert_storm": run_alert_storm, "card_actions": run_card_actions, "schedule": run_schedule,
    "footprint": run_footprint}
# What each number may do as incidents grow; anything else is flat (per operation).
MAY_GROW_LINEARLY = {"RSS MB"}
# Differences smaller than these are noise, whatever the ratio (a 20 ms lateness doubling is not a trend).
NOISE = {"p99 lateness s": 0.25, "idle CPU %": 1.0, "p50 ms": 5.0, "RSS MB": 10.0}


def verdict(metric: str, small: float, large: float, scale: float) -> tuple[float, str, bool]:
    """(growth, flat | linear | worse than linear, within what this metric may do)."""
    growth = large / small if small > 0 else math.inf
    if abs(large - small) < NOISE.get(metric, 0.0) or growth <= 1:
        shape = "flat"
    else:
        exponent = math.log(growth) / math.log(scale)
        shape = "flat" if exponent < FLAT_BELOW else "linear" if exponent <= LINEAR_UP_TO else "worse than linear"
    allowed = ("flat", "linear") if metric in MAY_GROW_LINEARLY else ("flat",)
    return growth, shape, shape in allowed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 incidents, short runs")
    parser.add_argument("--sizes", type=int, nargs=2, metavar=("SMALL", "LARGE"))
    parser.add_argument("--benches", default=",".join(BENCHES), help="comma-separated, of: " + ", ".join(BENCHES))
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="for alert_storm and card_actions (schedule and footprint use SQLite)")
    parser.add_argument("--storm-alerts", type=int)
    parser.add_argument("--storm-fingerprints", type=int)
    parser.add_argument("--busy", type=int, help="schedule: incidents with updates due during the run")
    parser.add_argument("--seconds", type=float, help="card_actions run length, schedule idle CPU window")
    parser.add_argument("--name", default="", help="result file name (default scaling, or scaling-quick)")
    args = parser.parse_args()
    small, large = args.sizes or ((100, 1_000) if args.quick else (1_000, 10_000))
    defaults = dict(storm_alerts=2_000, storm_fingerprints=100, busy=100, seconds=4.0) if args.quick else \
        dict(storm_alerts=10_000, storm_fingerprints=200, busy=300, seconds=10.0)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.settle = 1.0 if args.quick else 3.0
    results: dict[str, dict[str, Any]] = {}
    rows = [("benchmark", "metric", f"{small:,}", f"{large:,}", "growth", "verdict", "")]
    for name in [b.strip() for b in args.benches.split(",") if b.strip()]:
        measured = {size: BENCHES[name](size, args) for size in (small, large)}
        results[name] = {}
        for metric in measured[small]:
            a, b = measured[small][metric], measured[large][metric]
            growth, shape, ok = verdict(metric, a, b, large / small)
            results[name][metric] = {"small": a, "large": b, "growth": growth, "verdict": shape, "ok": ok}
            rows.append((name, metric, f"{a:.3g}", f"{b:.3g}", f"{growth:.2f}x", shape, "ok" if ok else "CHECK"))
        print(f"{name} done", flush=True)
    print(table(rows))
    print(f"incidents {small:,} -> {large:,}; per-operation numbers should stay flat, memory at most linear")
    result = {"benchmark": "scaling", "database": args.database, "sizes": [small, large], "quick": args.quick,
              "settings": {k: getattr(args, k) for k in ("storm_alerts", "storm_fingerprints", "busy", "seconds")},
              "results": results, "all_ok": all(m["ok"] for r in results.values() for m in r.values())}
    print(f"wrote {write_result(args.name or ('scaling-quick' if args.quick else 'scaling'), result)}")


if __name__ == "__main__":
    main()
