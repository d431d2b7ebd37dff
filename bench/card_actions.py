"""Card actions under load, modelled on what Teams sends: N different responders click "Add note"
on incident cards through /api/messages, each click carrying the version of the card as Teams last
showed that person (the card their own previous click returned), so most cards are a little stale,
as in a busy incident. Against Beacon and a bare botbuilder bot on the same stack, in alternating
rounds on the same machine; after each of Beacon's rounds its outbox is drained (card updates and
thread notes delivered to the fake Bot Connector, which runs in its own process) before the next
round starts, so neither bot's round pays for the other's leftovers.

    python -m bench.card_actions --users 20 --seconds 10 [--incidents 1] [--history 300]
                                 [--cards stale|current] [--database postgresql]

`--incidents 1` puts every responder on one busy incident; more spreads the clicks. `--history`
stores that many notes on each incident first; `--cards stale` starts everyone from the card shown
at the declaration, `current` from the card after that history.

Targets: Beacon's throughput ≥ 0.8 × the baseline's and its p99 ≤ 1.4 × the baseline's p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.common import fresh_database_outside_a_loop, latency_summary, latency_table, server, write_result
from bench.serve import BENCH_RESPONDERS
from tests.teams_activities import Person, card_action_invoke, installation_update

TARGETS = {"throughput_ratio": ">= 0.8", "p99_ratio": "<= 1.4"}
_VERSION = re.compile(r'"version":\s*(\d+)')  # the incident's version in the card's actions (the schema's is "1.5")


@dataclass
class Responder:
    person: Person
    shown: dict[int, int] = field(default_factory=dict)  # incident id → version of the card Teams showed them


@dataclass
class Incident:
    id: int
    root: str  # the card's message id
    declared_version: int


async def declare(url: str, connector: str, count: int) -> list[Incident]:
    """Install Beacon in the team (its roster, read at install, names every responder), then declare."""
    found = []
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/api/messages", json=installation_update(service_url=connector)) as response:
            assert response.status < 300, await response.text()
        deadline = time.perf_counter() + 30
        for i in range(count):
            root = str(1_000 + i)
            activity = card_action_invoke("declare.submit", {"title": f"Bench incident {i}", "impact": "low",
                                                             "urgency": "low"}, reply_to_id=root, service_url=connector)
            while True:  # until the roster read at install has landed
                async with session.post(url + "/api/messages", json=activity) as response:
                    text = await response.text()
                if "still checking your membership" not in text or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.1)
            found.append(Incident(int(re.search(r"INC-(\d+)", text).group(1)), root, 1))  # type: ignore[union-attr]
    return found


async def add_history(database: str, incidents: list[Incident], notes: int) -> dict[int, int]:
    """`notes` notes on each incident, written as the use cases write them (none with 0); notes the
    version each incident's card showed at its declaration, and returns each one's version now."""
    from services.clock import SystemClock
    from services.incidents import Person as Actor
    from services.store.db import create_engine, session_factory
    from services.store.uow import UnitOfWork

    engine = create_engine(database)
    versions = {}
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            actor, now = Actor("bench-history", "Earlier responder"), SystemClock().now()
            for stub in incidents:
                incident = await uow.incidents.get(stub.id)
                assert incident is not None
                stub.declared_version = incident.version
                for n in range(notes):
                    incident.add_note(f"Checked shard {n}", actor, now)
                    await uow.incidents.save(incident)
                versions[stub.id] = incident.version
            await uow.commit()
    finally:
        await engine.dispose()
    return versions


DRAIN_TIMEOUT = 120.0


async def drain(database: str, timeout: float = DRAIN_TIMEOUT) -> float:
    """Wait until Beacon's outbox has nothing left to deliver; returns how long that took (at
    least `timeout` when it never emptied)."""
    from sqlalchemy import func, select

    from services.store.db import create_engine
    from services.store.tables import OutboxRow

    engine = create_engine(database)
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < timeout:
            async with engine.connect() as connection:
                pending = await connection.scalar(select(func.count()).select_from(OutboxRow).where(
                    OutboxRow.status.in_(["pending", "sending"])))
            if not pending:
                break
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def clicks(session: aiohttp.ClientSession, url: str, connector: str, responder: Responder,
                 incidents: list[Incident], deadline: float, latencies: list[float], errors: list[str]) -> None:
    while time.perf_counter() < deadline:
        incident = random.choice(incidents)
        version = responder.shown.get(incident.id, incident.declared_version)
        activity = card_action_invoke("incident.note", {"incidentId": incident.id, "version": version,
                                                        "note": "still investigating"},
                                      reply_to_id=incident.root, service_url=connector, from_user=responder.person)
        start = time.perf_counter()
        async with session.post(url + "/api/messages", json=activity) as response:
            body: Any = await response.json(content_type=None)
        latencies.append(time.perf_counter() - start)
        text = json.dumps(body.get("value")) if isinstance(body, dict) else ""
        if response.status != 200 or body.get("statusCode") != 200 or "did not work" in text:
            errors.append(f"{response.status}: {str(body)[:160]}")
        elif shown := [int(v) for v in _VERSION.findall(text)]:
            responder.shown[incident.id] = max(shown)  # what Teams now shows this person


async def round_(url: str, connector: str, responders: list[Responder], incidents: list[Incident],
                 seconds: float) -> tuple[list[float], float, list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=len(responders))) as session:
        start = time.perf_counter()
        await asyncio.gather(*(clicks(session, url, connector, r, incidents, start + seconds, latencies, errors)
                               for r in responders))
        return latencies, time.perf_counter() - start, errors


async def measure(beacon: str, baseline: str, users: int, seconds: float, rounds: int, *, connector: str,
                  database: str, incidents: int = 1, history: int = 0, cards: str = "stale") -> dict[str, Any]:
    declared = await declare(beacon, connector, incidents)
    current = await add_history(database, declared, history)
    responders = [Responder(Person.named(f"Responder {n:02d}")) for n in range(users)]
    if cards == "current":
        for responder in responders:
            responder.shown = dict(current)
    drained = [await drain(database)]
    results: dict[str, list[Any]] = {"beacon": [], "baseline": []}
    for _ in range(rounds):  # alternate, so both see the same machine conditions
        for name, url in (("baseline", baseline), ("beacon", beacon)):
            results[name].append(await round_(url, connector, responders, declared, seconds / rounds))
            if name == "beacon":
                drained.append(await drain(database))
    summary: dict[str, Any] = {}
    for name, runs in results.items():
        latencies = [x for run in runs for x in run[0]]
        summary[name] = {**latency_summary(latencies, sum(run[1] for run in runs)),
                         "errors": sum(len(run[2]) for run in runs),
                         "first_errors": [e for run in runs for e in run[2]][:3]}
    summary["drain_seconds"] = drained
    # The rounds' clicks over the rounds' time and the drains after them: what a click rate costs
    # once what it queued has gone out too. An outbox that falls behind in the rounds (its work
    # pushed past them, into the drains) shows here, not in the rounds' throughput.
    busy = sum(run[1] for run in results["beacon"]) + sum(drained[1:])
    summary["sustained_rps"] = summary["beacon"]["requests"] / busy if busy else 0.0
    # A round whose backlog outlived the drain runs on beside the next rounds, the baseline's
    # included, slowing both: the ratios would flatter Beacon.
    summary["drained"] = all(seconds < DRAIN_TIMEOUT for seconds in drained)
    return summary


def users_within_team(value: str) -> int:
    """The connector's team names BENCH_RESPONDERS responders; more would be refused as unknown people."""
    users = int(value)
    if not 1 <= users <= BENCH_RESPONDERS:
        raise argparse.ArgumentTypeError(f"{users} users: the bench team has 1 to {BENCH_RESPONDERS} responders")
    return users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=users_within_team, default=20,
                        help=f"different responders clicking (1 to {BENCH_RESPONDERS}, the team the connector knows)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--incidents", type=int, default=1)
    parser.add_argument("--history", type=int, default=0, help="notes stored on each incident before the run")
    parser.add_argument("--cards", choices=["stale", "current"], default="stale")
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (a fresh file), postgresql (a fresh database, dropped after) or a URL")
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database_outside_a_loop(args.database, tmp, "cards") as database:
        with server("connector") as connector, server("beacon", database) as beacon, \
                server("baseline") as baseline:
            summary = asyncio.run(measure(beacon, baseline, args.users, args.seconds, args.rounds,
                                          connector=connector + "/", database=database, incidents=args.incidents,
                                          history=args.history, cards=args.cards))
    b, base = summary["beacon"], summary["baseline"]
    ratios = {"throughput_ratio": b["throughput_rps"] / base["throughput_rps"] if base["throughput_rps"] else 0,
              "p99_ratio": b["p99_ms"] / base["p99_ms"] if base["p99_ms"] else 0,
              "sustained_ratio": summary["sustained_rps"] / base["throughput_rps"] if base["throughput_rps"] else 0}
    kind = "postgresql" if database.startswith("postgresql") else "sqlite"
    case = {"users": args.users, "incidents": args.incidents, "history": args.history, "cards": args.cards}
    result = {"benchmark": "card_actions", "database": kind, **case, **summary, **ratios, "targets": TARGETS}
    print(latency_table(summary, ("baseline", "beacon")))
    if b["errors"]:
        print(f"beacon errors, first: {b['first_errors']}")
    print(f"throughput ratio {ratios['throughput_ratio']:.2f} (target {TARGETS['throughput_ratio']}), "
          f"p99 ratio {ratios['p99_ratio']:.2f} (target {TARGETS['p99_ratio']})  [{kind}, {args.users} users, "
          f"{args.incidents} incident(s), {args.history} notes of history, {args.cards} cards; "
          f"outbox drains {', '.join(f'{d:.1f}' for d in summary['drain_seconds'])} s]")
    print(f"sustained ratio {ratios['sustained_ratio']:.2f}: Beacon's clicks over its rounds and the outbox drains "
          "after them, against the baseline's throughput")
    print(f"wrote {write_result(args.name or f'card_actions-{kind}', result)}")
    if not summary["drained"]:
        raise SystemExit(f"NOT COMPARABLE: Beacon's outbox was still delivering {DRAIN_TIMEOUT:.0f} s after a "
                         "round, so the rounds after it (the baseline's too) ran beside its backlog")


if __name__ == "__main__":
    main()
