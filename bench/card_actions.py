"""Card actions under load: N simulated Teams users click Action.Execute buttons on open
incidents through /api/messages, against Beacon and against a baseline bot on the same stack,
in alternating rounds on the same machine. Prints a table and writes bench/results/.

    python -m bench.card_actions --users 20 --seconds 10 [--database postgresql]

Targets: Beacon's throughput ≥ 0.7 × the baseline's and its p99 ≤ 1.5 × the baseline's p99.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import tempfile
import time
from typing import Any

import aiohttp

from bench.common import fresh_database_outside_a_loop, latency_summary, latency_table, server, write_result
from tests.fakes.connector import FakeConnector
from tests.teams_activities import Users, card_action_invoke, installation_update

_click_ids = itertools.count()


async def seed_incidents(url: str, teams: FakeConnector, count: int) -> list[int]:
    """Install Beacon in the team (whose roster, the clicking user, Beacon reads), then declare."""
    ids = []
    teams.add_member(Users.ALICE)
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/api/messages", json=installation_update(service_url=teams.url)) as response:
            assert response.status < 300, await response.text()
        deadline = time.perf_counter() + 30
        for i in range(count):
            activity = card_action_invoke("declare.submit", {"title": f"Bench incident {i}", "impact": "low",
                                                             "urgency": "low"},
                                          reply_to_id=str(1_000 + i), service_url=teams.url)
            while True:  # until the roster read at install has landed
                async with session.post(url + "/api/messages", json=activity) as response:
                    text = await response.text()
                if "still checking your membership" not in text or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.1)
            ids.append(int(re.search(r"INC-(\d+)", text).group(1)))  # type: ignore[union-attr]
    return ids


async def user(session: aiohttp.ClientSession, url: str, connector_url: str, incidents: list[int],
               deadline: float, latencies: list[float], errors: list[str]) -> None:
    while time.perf_counter() < deadline:
        incident = incidents[next(_click_ids) % len(incidents)]
        activity = card_action_invoke("incident.note", {"incidentId": incident, "note": "still investigating"},
                                      reply_to_id="1", service_url=connector_url)
        start = time.perf_counter()
        async with session.post(url + "/api/messages", json=activity) as response:
            body: Any = await response.json(content_type=None)
        latencies.append(time.perf_counter() - start)
        if response.status != 200 or body.get("statusCode") != 200:
            errors.append(f"{response.status}: {str(body)[:100]}")


async def round_(url: str, connector_url: str, incidents: list[int], users: int, seconds: float
                 ) -> tuple[list[float], float, list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(user(session, url, connector_url, incidents, start + seconds, latencies, errors)
                               for _ in range(users)))
        return latencies, time.perf_counter() - start, errors


async def measure(beacon: str, baseline: str, users: int, seconds: float, rounds: int) -> dict[str, Any]:
    async with FakeConnector() as teams:
        incidents = await seed_incidents(beacon, teams, max(users, 10))
        results: dict[str, list[Any]] = {"beacon": [], "baseline": []}
        for _ in range(rounds):  # alternate, so both see the same machine conditions
            for name, url in (("baseline", baseline), ("beacon", beacon)):
                results[name].append(await round_(url, teams.url, incidents, users, seconds / rounds))
    summary = {}
    for name, runs in results.items():
        latencies = [x for run in runs for x in run[0]]
        summary[name] = {**latency_summary(latencies, sum(run[1] for run in runs)),
                         "errors": sum(len(run[2]) for run in runs)}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (a fresh file), postgresql (a fresh database, dropped after) or a URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database_outside_a_loop(args.database, tmp, "cards") as database:
        with server("beacon", database) as beacon, server("baseline") as baseline:
            summary = asyncio.run(measure(beacon, baseline, args.users, args.seconds, args.rounds))
    b, base = summary["beacon"], summary["baseline"]
    ratios = {"throughput_ratio": b["throughput_rps"] / base["throughput_rps"] if base["throughput_rps"] else 0,
              "p99_ratio": b["p99_ms"] / base["p99_ms"] if base["p99_ms"] else 0}
    kind = "postgresql" if database.startswith("postgresql") else "sqlite"
    result = {"benchmark": "card_actions", "database": kind, "users": args.users, **summary, **ratios,
              "targets": {"throughput_ratio": ">= 0.7", "p99_ratio": "<= 1.5"}}
    print(latency_table(summary, ("baseline", "beacon")))
    print(f"throughput ratio {ratios['throughput_ratio']:.2f} (target >= 0.7), "
          f"p99 ratio {ratios['p99_ratio']:.2f} (target <= 1.5)  [{kind}, {args.users} users]")
    print(f"wrote {write_result(f'card_actions-{kind}', result)}")


if __name__ == "__main__":
    main()
