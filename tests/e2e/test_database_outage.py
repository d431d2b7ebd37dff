"""The database goes away for ten seconds (a PostgreSQL server of the test's own, really stopped),
under a real Beacon process: /readyz says so, requests get 503 with Retry-After and change
nothing, and nothing accepted before, during or after is lost once the server is back."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from sqlalchemy import select

from services.intake.tables import AlertReceiptRow
from services.store.db import create_engine
from services.store.tables import IncidentRow, OutboxRow
from tests.e2e.test_crash import BEARER, TOKEN, Crashable, alert, storm, storm_config
from tests.fakes.connector import FakeConnector
from tests.processes import BeaconProcess, PrivatePostgres
from tests.teams_activities import CHANNEL_ID, channel_message, installation_update

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 10


@pytest.fixture
def postgres():  # type: ignore[no-untyped-def]
    reason = PrivatePostgres.unavailable()
    if reason:
        pytest.skip(reason)
    server = PrivatePostgres()
    server.create()
    yield server
    server.destroy()


async def test_ten_seconds_without_the_database(tmp_path, postgres):
    async with FakeConnector() as teams:
        beacon = BeaconProcess(tmp_path, postgres.url, storm_config(services=8), ALERTS_WEBHOOK_TOKEN=TOKEN)
        engine = create_engine(postgres.url)
        run = Crashable(beacon, teams, engine)
        try:
            await beacon.start()
            assert (await beacon.get("/readyz"))[0] == 200
            await beacon.post("/api/messages", installation_update(service_url=teams.url))
            before, _ = await storm(beacon, [(n, n) for n in range(3)], concurrency=3)
            assert before == {0, 1, 2}
            # INC-3's card is on its way to Teams, slowly, when the database goes
            teams.slow_down(2.0)
            status, _ = await beacon.post("/api/alerts/alertmanager", alert(3, 3), BEARER)
            assert status == 200
            await asyncio.sleep(0.5)

            postgres.stop()
            stopped = time.monotonic()
            answers: dict[str, set[int]] = {"readyz": set(), "healthz": set(), "alert": set(), "message": set()}
            refused: list[int] = []
            sequence = 100
            while time.monotonic() - stopped < OUTAGE_SECONDS:
                answers["readyz"].add((await beacon.get("/readyz"))[0])
                answers["healthz"].add((await beacon.get("/healthz"))[0])
                status, body = await beacon.post("/api/alerts/alertmanager", alert(4 + len(refused) % 4, sequence),
                                                 BEARER)
                answers["alert"].add(status)
                if status == 503:
                    assert "database is unavailable" in body["error"], body
                    refused.append(sequence)
                sequence += 1
                status, _ = await beacon.post("/api/messages", channel_message("list", service_url=teams.url))
                answers["message"].add(status)
                await asyncio.sleep(0.5)
            assert answers == {"readyz": {503}, "healthz": {200}, "alert": {503}, "message": {503}}, answers

            postgres.start()
            deadline = time.monotonic() + 30
            while (await beacon.get("/readyz"))[0] != 200:
                assert time.monotonic() < deadline, "Beacon did not recover after the database came back"
                await asyncio.sleep(0.2)
            teams.slow_down(0)
            # monitoring re-sends what was refused
            resent, failed = await storm(beacon, [(4 + n % 4, s) for n, s in enumerate(refused)], concurrency=4)
            assert not failed and resent == set(refused)
            await run.drained()

            async with engine.connect() as connection:
                receipts = (await connection.execute(select(AlertReceiptRow.body))).scalars().all()
                incidents = (await connection.execute(select(IncidentRow.id))).scalars().all()
                outbox = [status for kind, status in (await connection.execute(select(OutboxRow.kind, OutboxRow.status)))
                          if kind != "graph.check_channel_kinds"]  # skipped: Graph is not configured here
            sequences = sorted(int(b["alerts"][0]["annotations"]["sequence"]) for b in receipts)
            assert sequences == [0, 1, 2, 3, *refused], "an alert refused with 503 changed nothing; each resent once"
            assert sorted(incidents) == list(range(1, 9))
            assert set(outbox) == {"sent"}
            # every incident card reached Teams once, INC-4's included (delivered during the outage)
            await run.assert_each_post_delivered_once()
            roots = [m for m in teams.posted(CHANNEL_ID) if m.kind == "root" and "incidentId" in str(m.cards)]
            assert len(roots) == 8, [re.findall(r"INC-\d+", str(m.cards))[:2] for m in roots]
            assert "Traceback" not in beacon.log() or "database away" in beacon.log()
        finally:
            await beacon.close()
            await engine.dispose()
