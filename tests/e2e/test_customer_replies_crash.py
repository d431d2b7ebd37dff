"""`kill -9` of a real Beacon process in the middle of answering customers, then a restart on the
same database: every linked ticket gets the stakeholder update as a public reply exactly once.

The kill lands while a reply is on its way: Freshdesk has received it and carries it out, but the
process dies before it hears the answer or records it. After the restart the outbox claims that
row again; Freshdesk has no idempotency key, so Beacon reads the ticket's conversations for the
reply's reference before sending, and finds it there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.store.db import create_engine
from services.store.tables import OutboxRow
from services.store.teams import TeamMemberRow
from tests.cardschema import assert_valid_card
from tests.e2e.conftest import E2E_CONFIG
from tests.e2e.customer_helpers import CLIENTS, SECRET, TRIAGE, report
from tests.e2e.helpers import act, declare, eventually
from tests.fakes.connector import FakeConnector
from tests.fakes.freshdesk import FakeFreshdesk
from tests.processes import BeaconProcess
from tests.teams_activities import CHANNEL_ID, Users, installation_update

pytestmark = pytest.mark.slow

UPDATE = "Card payments fail for some customers. We are switching to our backup payment provider."


class ProcessStack:
    """What the end-to-end helpers drive (declare, act, report), over a Beacon process."""

    def __init__(self, beacon: BeaconProcess, teams: FakeConnector):
        self.beacon, self.teams = beacon, teams

    @property
    def url(self) -> str:
        return self.teams.url

    async def send(self, activity: dict[str, Any]) -> tuple[int, Any]:
        return await self.beacon.post("/api/messages", activity)

    async def invoke_card(self, activity: dict[str, Any]) -> dict[str, Any]:
        status, body = await self.send(activity)
        assert status == 200 and body["statusCode"] == 200, body
        assert_valid_card(body["value"])
        return dict(body["value"])


async def test_kill_9_in_the_middle_of_a_fan_out_doubles_no_reply_and_loses_none(tmp_path: Path, database_url):
    config = {**E2E_CONFIG, "directory": {**E2E_CONFIG["directory"], "clients": CLIENTS},
              "report_triage": {"auto_link": True},
              "channels": {"incidents_channel": CHANNEL_ID, "triage_channel": TRIAGE}}
    teams, fd = FakeConnector(), FakeFreshdesk()
    await teams.start()
    await fd.start()
    beacon = BeaconProcess(tmp_path, database_url, config, FRESHDESK_URL=fd.url, FRESHDESK_API_KEY=fd.api_key,
                           FRESHDESK_WEBHOOK_SECRET=SECRET, FRESHDESK_REQUESTER_EMAIL="noc@example.com")
    engine = create_engine(database_url)
    try:
        await beacon.start()
        stack = ProcessStack(beacon, teams)
        teams.add_member(Users.ALICE)  # the team, as Beacon reads it at install
        status, _ = await stack.send(installation_update(service_url=teams.url))
        assert status in (200, 201)

        async def alice_in_roster() -> bool:  # the roster read at install has landed
            async with engine.connect() as connection:
                return bool((await connection.execute(select(TeamMemberRow).where(
                    TeamMemberRow.aad_object_id == Users.ALICE.aad_object_id))).first())

        for _ in range(300):
            if await alice_in_roster():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the roster read at install never named the clicker within 30 s")
        _, root = await declare(stack, "Payments API down", client="Contoso")  # type: ignore[arg-type]
        tickets = []
        for person in ("dana", "erin", "finn", "gus", "hana"):
            ticket, outcome = await report(stack, fd, "Cannot pay", f"{person}@contoso.example")  # type: ignore[arg-type]
            assert outcome == "linked"
            tickets.append(ticket)
        await eventually(lambda: all(fd.notes(t) for t in tickets), timeout=20, what="the link notes")

        fd.delay_next(5, 1.0, path_contains="/reply")  # each reply takes a second to carry out
        await act(stack, root, "incident.post_update", audience="stakeholders", update=UPDATE)  # type: ignore[arg-type]
        await eventually(lambda: len(fd.requests_to("/reply", "POST")) == 2, timeout=20,
                         what="the second reply on its way")
        beacon.kill()  # Freshdesk carries the second reply out; Beacon never hears of it
        await eventually(lambda: sum(len(fd.replies(t)) for t in tickets) == 2, what="the reply in flight")

        await beacon.start()
        await eventually(lambda: all(fd.replies(t) for t in tickets), timeout=60, what="a reply on every ticket")
        await asyncio.sleep(1.5)  # anything doubled would show by now
        assert [len(fd.replies(t)) for t in tickets] == [1, 1, 1, 1, 1]
        assert all(UPDATE in fd.replies(t)[0]["body_text"] for t in tickets)
        async with engine.connect() as connection:
            rows = (await connection.execute(select(OutboxRow).where(OutboxRow.kind == "freshdesk.reply"))).all()
        assert len(rows) == 5 and {r.status for r in rows} == {"sent"}
        # The row in flight at the kill was claimed again, and found its reply instead of resending it.
        assert sorted(r.attempts for r in rows) == [1, 1, 1, 1, 2]
        assert len(fd.requests_to("/conversations", "GET")) == 1
    finally:
        await beacon.close()
        await engine.dispose()
        await teams.stop()
        await fd.stop()
