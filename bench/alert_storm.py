"""Alert storm: N Alertmanager alerts over F fingerprints, one alert per webhook post, sent as fast
as the server accepts them by C concurrent senders, to Beacon and to the floor (a raw aiohttp
endpoint that parses and stores the same JSON in the same kind of database, answering each post
only after its transaction committed, with posts batched into transactions by the same group
commit Beacon's alert intake uses; see bench/serve.py). Both servers run at once; the storm is
split into rounds sent to each in turn, so both see the same machine conditions. Prints a table
and writes bench/results/.

    python -m bench.alert_storm --alerts 10000 --fingerprints 200 --concurrency 20 [--database postgresql]

Correctness, checked in Beacon's database afterwards: every post answered 2xx, exactly F incidents
opened, and each fingerprint's alert link counts exactly the posts sent with it.
Every storm service has an escalation policy whose first level pages the person on call by SMS,
through the fake Twilio in a process of its own, as a deployment that opens incidents from alerts
would. For each incident the storm opened, the time from its commit (its declared_at) to its first
page accepted by the fake Twilio (bench/first_pages.py), to its first Teams post reaching the fake
Bot Connector, also in a process of its own (its card; bench/first_posts.py, with what Teams'
per-conversation limits alone would impose on the cards), and to the first of the two; waited for
up to --post-wait seconds after the storm.
Targets: Beacon's throughput ≥ 0.5 × the floor's; commit to first page or post p99 < 1 s. `--preexisting K`
first writes K open incidents, each with a firing alert of its own, into Beacon's database
(bench/scaling.py uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select, text

from bench.common import (
    POSTGRES_ADMIN,
    fresh_database_outside_a_loop,
    latency_summary,
    latency_table,
    server,
    write_result,
)
from bench.first_pages import commit_to_first_page, describe_pages, wait_for_first_pages
from bench.first_posts import commit_to_first_post, describe, wait_for_first_posts
from tests.fakes.sms import TEST_TWILIO_SID, TEST_TWILIO_TOKEN
from tests.teams_activities import installation_update

TOKEN = "bench-alerts-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
ENDPOINT = "/api/alerts/alertmanager"


def alert_body(fingerprint: int, sequence: int) -> bytes:
    """One Alertmanager v4 post carrying one firing alert, on a service of its fingerprint's own
    (so each fingerprint opens its own incident rather than grouping); `sequence` makes each
    post's body unique, as repeated notifications from Alertmanager are not byte-identical."""
    labels = {"alertname": f"Storm {fingerprint}", "service": f"storm-{fingerprint}", "severity": "warning",
              "instance": f"node-{fingerprint}:9100", "job": "node"}
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="Storm {fingerprint}"}}', "status": "firing",
        "receiver": "beacon", "groupLabels": {"alertname": labels["alertname"]}, "commonLabels": labels,
        "commonAnnotations": {"summary": f"Storm {fingerprint} is failing"},
        "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": labels,
                    "annotations": {"summary": f"Storm {fingerprint} is failing", "sequence": str(sequence)},
                    "startsAt": "2026-11-26T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": f"http://prometheus:9090/graph?g0.expr=up%7Bjob%3D%22node-{fingerprint}%22%7D",
                    "fingerprint": fingerprint_key(fingerprint)}]}).encode()


def fingerprint_key(fingerprint: int) -> str:
    return f"{fingerprint:016x}"


def storm(alerts: int, fingerprints: int, seed: int = 1) -> list[int]:
    """Which fingerprint each post carries: every fingerprint about alerts/F times, in a shuffled
    order, so concurrent posts of one fingerprint do happen (the case dedup must survive)."""
    order = [n % fingerprints for n in range(alerts)]
    random.Random(seed).shuffle(order)
    return order


ON_CALL_PHONE = "+447700900100"
PAGER_FROM = "+447700900999"


def write_config(path: Path, fingerprints: int) -> None:
    """One service per fingerprint, each paging the storm's on-call person by SMS at once (level 1;
    the next level is due long after the benchmark ends, so only first pages are sent)."""
    started = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    services = "".join(f"  - {{name: storm-{n}, team: storm, criticality: medium, escalation_policy: storm}}\n"
                       for n in range(fingerprints))
    path.write_text(f"""directory:
  teams:
    - name: storm
      members:
        - {{name: Storm On-call, email: oncall@storm.example, phone: "{ON_CALL_PHONE}"}}
oncall:
  schedules:
    - {{name: storm-primary, time_zone: UTC, shift: P1W, handoff: "00:00", start: "{started}",
       people: [oncall@storm.example]}}
  escalation_policies:
    - name: storm
      levels:
        - {{notify: ["schedule:storm-primary"], methods: [sms], after: PT2H}}
services:
{services}""")


def sms_settings(sms: str) -> dict[str, str]:
    """Beacon's SMS settings for the fake Twilio at `sms` (its test credentials)."""
    return {"SMS_PROVIDER": "twilio", "TWILIO_BASE_URL": sms, "TWILIO_ACCOUNT_SID": TEST_TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TEST_TWILIO_TOKEN, "SMS_FROM": PAGER_FROM}


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Variables the server processes inherit (bench.common.server passes os.environ on), put back after."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- databases -------------------------------------------------------------------------------------

@contextmanager
def databases(kind: str, tmp: str) -> Iterator[tuple[str, str]]:
    """(Beacon's, the floor's) database URLs: SQLite files, or fresh PostgreSQL databases dropped after."""
    with fresh_database_outside_a_loop(kind, tmp, "beacon") as beacon, \
            fresh_database_outside_a_loop(kind, tmp, "floor") as floor:
        yield beacon, floor


async def seed_open_incidents(database: str, count: int) -> None:
    """`count` open incidents, each with one firing alert on a service of its own, fired an hour
    ago (outside the grouping window), as earlier storms would have left them."""
    from bench.footprint import seed
    from services.intake.tables import AlertLinkRow
    from services.store.db import create_engine
    from services.store.tables import IncidentRow

    await seed(database, count)
    engine = create_engine(database)
    before = datetime.now(UTC) - timedelta(hours=1)
    async with engine.begin() as connection:
        ids = [row[0] for row in await connection.execute(select(IncidentRow.id))]
        for start in range(0, len(ids), 1000):
            await connection.execute(insert(AlertLinkRow), [
                dict(incident_id=i, source="alertmanager", alert_key=f"old-{i:012x}", service=f"old-{i}",
                     rule="Old alert", severity="warning", summary="", link="", status="firing", count=1,
                     declared=True, first_at=before, last_at=before) for i in ids[start:start + 1000]])
    await engine.dispose()


async def stored_outcome(beacon_db: str, floor_db: str, sent: Counter[int]) -> dict[str, Any]:
    """What the storm left in both databases, checked against what was sent."""
    from services.intake.tables import AlertLinkRow, AlertReceiptRow
    from services.store.db import create_engine
    from services.store.tables import IncidentRow

    engine = create_engine(beacon_db)
    async with engine.connect() as connection:
        incidents = await connection.scalar(select(func.count()).select_from(IncidentRow)
                                            .where(IncidentRow.source == "alertmanager"))
        receipts = await connection.scalar(select(func.count()).select_from(AlertReceiptRow))
        links = (await connection.execute(select(AlertLinkRow.alert_key, AlertLinkRow.count)
                                          .where(AlertLinkRow.alert_key.not_like("old-%")))).all()
    await engine.dispose()
    engine = create_engine(floor_db)
    async with engine.connect() as connection:
        floor_rows = await connection.scalar(text("SELECT count(*) FROM floor_alerts"))
    await engine.dispose()
    expected = {fingerprint_key(f): n for f, n in sent.items()}
    counted = Counter[str]()
    for key, count in links:
        counted[key] += count
    wrong = {key: (counted.get(key, 0), n) for key, n in expected.items() if counted.get(key, 0) != n}
    per_key = Counter(key for key, _ in links)
    return {"incidents": incidents, "expected_incidents": len(expected), "links": len(links),
            "duplicate_links": sum(n - 1 for n in per_key.values() if n > 1), "receipts": receipts,
            "floor_rows": floor_rows, "wrong_counts": dict(list(wrong.items())[:10]), "wrong_count_total": len(wrong),
            "exact": incidents == len(expected) and len(links) == len(expected) and not wrong}


# -- load ------------------------------------------------------------------------------------------

async def send(url: str, posts: list[tuple[int, int]], concurrency: int) -> tuple[list[float], float, list[str]]:
    """Post every (fingerprint, sequence) with `concurrency` senders; latencies of all, and errors."""
    bodies = iter([alert_body(f, s) for f, s in posts])  # built before the clock starts
    latencies: list[float] = []
    errors: list[str] = []

    async def sender(session: aiohttp.ClientSession) -> None:
        for body in bodies:
            start = time.perf_counter()
            try:
                async with session.post(url + ENDPOINT, data=body, headers=HEADERS) as response:
                    answer = await response.read()
            except aiohttp.ClientError as error:
                errors.append(f"{type(error).__name__}: {error}"[:200])
                continue
            latencies.append(time.perf_counter() - start)
            if not 200 <= response.status < 300:
                errors.append(f"{response.status}: {answer[:150]!r}")

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
        return latencies, time.perf_counter() - start, errors


async def measure(beacon: str, floor: str, teams: str, order: list[int], concurrency: int, rounds: int
                  ) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:  # installed in a team, so incident cards post
        async with session.post(beacon + "/api/messages", json=installation_update(service_url=teams)) as response:
            assert response.status < 300, await response.text()
    posts = list(enumerate(order))
    size = -(-len(posts) // rounds)
    runs: dict[str, list[Any]] = {"floor": [], "beacon": []}
    for start in range(0, len(posts), size):  # alternate, so both see the same machine conditions
        chunk = [(fingerprint, sequence) for sequence, fingerprint in posts[start:start + size]]
        for name, url in (("floor", floor), ("beacon", beacon)):
            runs[name].append(await send(url, chunk, concurrency))
    summary = {}
    for name, results in runs.items():
        latencies = [x for run in results for x in run[0]]
        errors = [e for run in results for e in run[2]]
        summary[name] = {**latency_summary(latencies, sum(run[1] for run in results)), "errors": len(errors),
                         "first_errors": errors[:5],
                         # the first round carries every declaration; the later ones only repeats
                         "per_round": [{k: round(v, 1) for k, v in latency_summary(run[0], run[1]).items()}
                                       for run in results]}
    return summary


def run(kind: str, alerts: int, fingerprints: int, concurrency: int, rounds: int, preexisting: int, *,
        post_wait: float = 300.0) -> dict[str, Any]:
    from services.settings import Settings

    order = storm(alerts, fingerprints)
    with tempfile.TemporaryDirectory() as tmp, databases(kind, tmp) as (beacon_db, floor_db):
        config = Path(tmp) / "beacon.yaml"
        write_config(config, fingerprints)
        if preexisting:
            asyncio.run(seed_open_incidents(beacon_db, preexisting))
        # The fake Bot Connector and the fake Twilio in processes of their own, as Teams and Twilio
        # are, so that the posts and pages Beacon makes during the storm do not slow the process
        # that sends the alerts.
        with environment(ALERTS_WEBHOOK_TOKEN=TOKEN, BEACON_CONFIG=str(config)), \
                server("connector") as teams, server("sms") as sms, environment(**sms_settings(sms)), \
                server("beacon", beacon_db) as beacon, server("floor", floor_db) as floor:
            summary = asyncio.run(measure(beacon, floor, teams, order, concurrency, rounds))
            waited = time.monotonic()
            pages = asyncio.run(wait_for_first_pages(beacon_db, sms, post_wait))
            seen = asyncio.run(wait_for_first_posts(beacon_db, teams, post_wait - (time.monotonic() - waited)))
            ended = datetime.now(UTC)
            limits = Settings(database_url=beacon_db).teams_conversation_limits  # as the Beacon process reads them
            first_post = commit_to_first_post(seen, limits, ended)
            first_page = commit_to_first_page(seen.incidents, pages, ended)
        stored = asyncio.run(stored_outcome(beacon_db, floor_db, Counter(order)))
    b, f = summary["beacon"], summary["floor"]
    ratios = {"throughput_ratio": b["throughput_rps"] / f["throughput_rps"] if f["throughput_rps"] else 0.0,
              "p50_ratio": b["p50_ms"] / f["p50_ms"] if f["p50_ms"] else 0.0,
              "p99_ratio": b["p99_ms"] / f["p99_ms"] if f["p99_ms"] else 0.0,
              # each round's ratio, Beacon's against the floor's run just before it: the first round
              # carries every declaration (and the pages and cards they queue), the later ones repeats
              "round_ratios": [br["throughput_rps"] / fr["throughput_rps"] if fr["throughput_rps"] else 0.0
                               for br, fr in zip(b["per_round"], f["per_round"], strict=True)]}
    correct = stored["exact"] and b["errors"] == 0 and f["errors"] == 0 and stored["receipts"] == alerts \
        and stored["floor_rows"] == alerts
    return {"benchmark": "alert_storm", "database": kind, "alerts": alerts, "fingerprints": fingerprints,
            "concurrency": concurrency, "rounds": rounds, "preexisting_incidents": preexisting, **summary, **ratios,
            "stored": stored, "teams_requests": seen.requests, "commit_to_first_post": first_post,
            "commit_to_first_page": first_page["page"], "commit_to_first_page_or_post": first_page["page_or_post"],
            "correct": correct,
            "targets": {"throughput_ratio": ">= 0.5", "commit_to_first_page_or_post_p99": "< 1 s"}}


def report(result: dict[str, Any]) -> None:
    print(latency_table(result, ("floor", "beacon")))
    stored = result["stored"]
    print(f"throughput ratio {result['throughput_ratio']:.2f} (target >= 0.5), p50 ratio {result['p50_ratio']:.2f}, "
          f"p99 ratio {result['p99_ratio']:.2f}  [{result['database']}, {result['alerts']} alerts over "
          f"{result['fingerprints']} fingerprints, {result['concurrency']} senders, "
          f"{result['preexisting_incidents']} incidents before]")
    print("by round (Beacon's alerts a second / the floor's, run just before it): " + ", ".join(
        f"{n}: {beacon['throughput_rps']:.0f}/{floor['throughput_rps']:.0f} = {ratio:.2f}" for n, (beacon, floor, ratio)
        in enumerate(zip(result["beacon"]["per_round"], result["floor"]["per_round"], result["round_ratios"],
                         strict=True), 1))
        + f"; the first round carries all {result['fingerprints']} declarations, the others only repeats")
    print(f"dedup: {stored['incidents']} incidents for {stored['expected_incidents']} fingerprints, "
          f"{stored['wrong_count_total']} wrong counts, {stored['duplicate_links']} duplicate links, "
          f"{stored['receipts']} receipts; {'exact' if result['correct'] else 'NOT EXACT'}; "
          f"{result['teams_requests']} calls to Teams (card posts and redraws)")
    print(describe(result["commit_to_first_post"]))
    print(describe_pages({"page": result["commit_to_first_page"],
                          "page_or_post": result["commit_to_first_page_or_post"]}))
    for name in ("floor", "beacon"):
        for error in result[name]["first_errors"]:
            print(f"{name} error: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--fingerprints", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help=f"postgresql: fresh databases on {POSTGRES_ADMIN} (BEACON_TEST_POSTGRES), dropped after")
    parser.add_argument("--preexisting", type=int, default=0, help="open incidents in Beacon's database before")
    parser.add_argument("--name", default="", help="result file name (default alert_storm-<database>)")
    parser.add_argument("--post-wait", type=float, default=300.0,
                        help="seconds to wait after the storm for every incident's first page and Teams post")
    args = parser.parse_args()
    result = run(args.database, args.alerts, args.fingerprints, args.concurrency, args.rounds, args.preexisting,
                 post_wait=args.post_wait)
    report(result)
    print(f"wrote {write_result(args.name or f'alert_storm-{args.database}', result)}")
    if not result["correct"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
