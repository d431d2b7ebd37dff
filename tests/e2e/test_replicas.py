"""Three Beacon processes on one PostgreSQL, as a scaled-out deployment runs them: 50 incidents
with one-second update cadences for 20 seconds, an alert storm spread over the three, and
responders clicking the same incident's card through different replicas at the same moment.

What people would check: every status update posted once (no gaps, no doubles), the incident
card in Teams showing the incident as stored (its version), one incident per alert fingerprint,
and of two conflicting clicks exactly one applied."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from datetime import timedelta
from itertools import cycle
from typing import Any

import pytest
from sqlalchemy import select

from services.incidents import TRANSITIONS
from services.incidents.model import Status
from services.intake.tables import AlertLinkRow, AlertReceiptRow
from services.store.db import create_engine
from services.store.tables import IncidentRow, OutboxRow, ThreadRow, TimelineRow
from tests.e2e.helpers import card_text, card_version
from tests.e2e.test_crash import BEARER, TOKEN, Crashable, alert, storm_config
from tests.fakes.connector import FakeConnector
from tests.processes import BeaconProcess
from tests.teams_activities import Users, card_action_invoke, installation_update

pytestmark = pytest.mark.slow

INCIDENTS = 50
RUN_SECONDS = 20


async def spread_storm(replicas: list[BeaconProcess], posts: list[tuple[int, int]], concurrency: int = 12) -> int:
    """Round-robin the posts over the replicas; returns how many got a 2xx (all must)."""
    targets = cycle(replicas)
    queue = [(next(targets), p) for p in posts]
    accepted = 0

    async def sender() -> None:
        nonlocal accepted
        while queue:
            beacon, (fingerprint, sequence) = queue.pop(0)
            status, body = await beacon.post("/api/alerts/alertmanager", alert(fingerprint, sequence), BEARER)
            assert status == 200, (beacon.name, status, body)
            accepted += 1

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return accepted


async def click(beacon: BeaconProcess, teams: FakeConnector, root_id: str, incident_id: int, version: int,
                verb: str, user: Any, **data: Any) -> dict[str, Any]:
    activity = card_action_invoke(verb, {"incidentId": incident_id, "version": version, **data},
                                  reply_to_id=root_id, service_url=teams.url, from_user=user)
    status, body = await beacon.post("/api/messages", activity)
    assert status == 200 and body["statusCode"] == 200, (beacon.name, status, body)
    return body["value"]


async def test_three_replicas_on_one_postgresql(tmp_path, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("several replicas share one PostgreSQL")
    config = storm_config(services=INCIDENTS, responder_update_high="PT1S", responder_update_other="PT1S",
                          grace="PT0.5S", late_after="PT30S")
    async with FakeConnector() as teams:
        replicas = [BeaconProcess(tmp_path, database_url, config, name=f"replica-{n}", ALERTS_WEBHOOK_TOKEN=TOKEN)
                    for n in range(3)]
        engine = create_engine(database_url)
        run = Crashable(replicas[0], teams, engine)
        try:
            await asyncio.gather(*(r.start() for r in replicas))
            for person in (Users.ALICE, Users.BOB, Users.CAROL):  # the team, as Beacon reads it at install
                teams.add_member(person)
            await replicas[0].post("/api/messages", installation_update(service_url=teams.url))
            await teams.wait_for(lambda f: [c for c in f.calls("get_paged_members") if c.status == 200] or None,
                                 timeout=30)
            posts = [(n % INCIDENTS, n) for n in range(INCIDENTS * 4)]
            assert await spread_storm(replicas, posts) == len(posts)
            started = asyncio.get_running_loop().time()

            # the same incident clicked through different replicas at the same moment
            async def thread_of(incident_id: int) -> Any:
                async with engine.connect() as connection:
                    return (await connection.execute(select(ThreadRow).where(
                        ThreadRow.incident_id == incident_id, ThreadRow.purpose == "incident"))).first()

            while (await thread_of(1)) is None:  # noqa: ASYNC110 - polling another process's database
                await asyncio.sleep(0.1)
            root = (await thread_of(1)).root_activity_id
            conflicts = 0
            seen: list[list[str]] = []  # the two status clicks' answers, each round, for the message
            for round_ in range(3):
                async with engine.connect() as connection:
                    current = (await connection.execute(select(IncidentRow).where(IncidentRow.id == 1))).one()
                version = current.version
                status = sorted(s.value for s in TRANSITIONS[Status(current.status)] if s is not Status.RESOLVED)
                answers = await asyncio.gather(
                    click(replicas[0], teams, root, 1, version, "incident.status", Users.ALICE, status=status[0]),
                    click(replicas[1], teams, root, 1, version, "incident.status", Users.BOB, status=status[1]),
                    click(replicas[2], teams, root, 1, version, "incident.note", Users.CAROL,
                          note=f"Round {round_}: checked the load balancer"))
                conflicts += sum("out of date" in card_text(a) for a in answers[:2])
                seen.append([card_text(a)[:300] for a in answers[:2]])
                assert "out of date" not in card_text(answers[2]) or "Applied on top" in card_text(answers[2])
            assert conflicts == 3, f"of two conflicting status changes exactly one applies, each time: {seen}"

            await asyncio.sleep(max(0.0, RUN_SECONDS - (asyncio.get_running_loop().time() - started)))
            await asyncio.gather(*(r.stop() for r in replicas))  # graceful: deliveries in flight finish
            # One replica finishes what is queued, with hour-long cadences so that the updates stop
            # falling due: then every card can be compared with its incident at rest.
            quiet = {**config, "communications": {**config["communications"], "responder_update_high": "PT1H",
                                                  "responder_update_other": "PT1H"}}
            finisher = BeaconProcess(tmp_path, database_url, quiet, name="finisher", ALERTS_WEBHOOK_TOKEN=TOKEN)
            replicas.append(finisher)
            await finisher.start()
            # the backlog goes out at Teams' pace; a slow machine builds a longer one
            await run.finished(quiet=timedelta(minutes=5), timeout=300)
            await finisher.stop()

            async with engine.connect() as connection:
                incidents = {row.id: row for row in (await connection.execute(select(IncidentRow))).all()}
                links = (await connection.execute(select(AlertLinkRow))).all()
                receipts = (await connection.execute(select(AlertReceiptRow))).all()
                timeline = (await connection.execute(select(TimelineRow))).all()
                threads = (await connection.execute(select(ThreadRow).where(ThreadRow.purpose == "incident"))).all()

            # no duplicate incident for one fingerprint, and every firing counted once
            assert len(incidents) == INCIDENTS
            assert Counter(link.alert_key for link in links) == Counter({f"{n:016x}": 1 for n in range(INCIDENTS)})
            assert all(link.count == 4 for link in links) and len(receipts) == len(posts)

            # of each pair of conflicting clicks one applied; the notes all applied
            kinds = Counter(e.kind for e in timeline if e.incident_id == 1)
            assert kinds["status_changed"] == 3 and kinds["note"] == 3

            # every status update posted exactly once: numbered 1..n in each thread, nothing twice
            assert await run.assert_each_post_delivered_once() == 0
            total = 0
            for thread in threads:
                numbers = [int(n) for m in teams.thread(thread.root_activity_id) for c in m.cards
                           for n in re.findall(r"update #(\d+)", card_text(c))[:1]]
                assert numbers == list(range(1, len(numbers) + 1)), (thread.incident_id, numbers)
                total += len(numbers)
            assert total >= INCIDENTS * 5, f"only {total} updates in {RUN_SECONDS} s for {INCIDENTS} incidents"

            # every card in Teams shows its incident as stored, and its versions only moved forward
            for thread in threads:
                versions = [card_version(v["attachments"][0]["content"]) for v in
                            teams.message(thread.root_activity_id).versions]
                assert versions == sorted(versions), (thread.incident_id, versions)
                if versions[-1] != incidents[thread.incident_id].version:
                    async with engine.connect() as connection:
                        rows = (await connection.execute(select(OutboxRow).where(
                            OutboxRow.incident_id == thread.incident_id, OutboxRow.kind == "teams.update_card")
                            .order_by(OutboxRow.id))).all()
                    events = [(e.incident_version, e.kind, e.at.isoformat()) for e in timeline
                              if e.incident_id == thread.incident_id][-8:]
                    raise AssertionError(
                        f"INC-{thread.incident_id}: card shows version {versions[-1]}, stored "
                        f"{incidents[thread.incident_id].version}; card updates "
                        f"{[(r.id, r.idempotency_key, r.status, r.attempts, r.done_at) for r in rows][-6:]}; "
                        f"timeline {events}")
            assert "Traceback" not in "".join(r.log() for r in replicas), json.dumps(
                [r.log()[-2000:] for r in replicas])[:6000]
        finally:
            await asyncio.gather(*(r.close() for r in replicas), return_exceptions=True)
            await engine.dispose()

