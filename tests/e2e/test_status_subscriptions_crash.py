"""`kill -9` of a real Beacon process in the middle of emailing a status page's subscribers, then a
restart on the same database: every subscriber gets the stakeholder update exactly once.

The kill lands while one subscriber's email is on its way and Graph has not taken it yet (the
connection is dropped, nothing is sent); the others were delivered and recorded before. After the
restart the outbox sends the one that was in flight, and nothing already delivered again. (An
email Graph took in the instant before the kill, unrecorded, is sent again: sendMail has no
idempotency key. Its Message-ID is the same both times, made from the outbox key.)
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from services.store.db import create_engine
from services.store.tables import OutboxRow
from services.store.teams import TeamMemberRow
from tests.e2e.conftest import E2E_CONFIG
from tests.e2e.helpers import act, declare, eventually
from tests.e2e.test_customer_replies_crash import ProcessStack
from tests.fakes.connector import FakeConnector
from tests.fakes.graph import FakeGraph
from tests.processes import BeaconProcess
from tests.teams_activities import CHANNEL_ID, Users, channel_message, installation_update

pytestmark = pytest.mark.slow

UPDATE = "Card payments fail for some customers. We are switching to our backup payment provider."
READERS = ["dana@contoso-client.example", "erin@contoso-client.example", "finn@contoso-client.example"]


def link_after(text: str, label: str) -> str:
    found = re.search(rf"{label}[^\n]*\n?https://beacon\.example\.com(\S+)", text)
    assert found is not None, text
    return found.group(1)


async def test_kill_9_while_emailing_subscribers_doubles_no_email_and_loses_none(tmp_path: Path, database_url):
    config = {**E2E_CONFIG, "directory": {**E2E_CONFIG["directory"], "clients": [{"name": "Contoso"}]},
              "roles": {"incident_admins": [Users.ALICE.aad_object_id]},
              "channels": {"incidents_channel": CHANNEL_ID}}
    teams, graph = FakeConnector(), FakeGraph()
    await teams.start()
    await graph.start()
    beacon = BeaconProcess(tmp_path, database_url, config, STATUS_LINK_SECRET="status-secret",
                           BEACON_PUBLIC_URL="https://beacon.example.com", GRAPH_BASE_URL=graph.base_url,
                           GRAPH_ACCESS_TOKEN="t", MAIL_SENDER="noc@example.com")
    engine = create_engine(database_url)
    try:
        await beacon.start()
        stack = ProcessStack(beacon, teams)
        teams.add_member(Users.ALICE)
        status, _ = await stack.send(installation_update(service_url=teams.url))
        assert status in (200, 201)
        for _ in range(300):  # the roster read at install has landed
            async with engine.connect() as connection:
                if (await connection.execute(select(TeamMemberRow).where(
                        TeamMemberRow.aad_object_id == Users.ALICE.aad_object_id))).first():
                    break
            await asyncio.sleep(0.1)
        _, root = await declare(stack, "Payments API down", client="Contoso")  # type: ignore[arg-type]
        message = channel_message("status Contoso", service_url=teams.url, from_user=Users.ALICE)
        await stack.send(message)
        answer = await teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == message["id"]),
                                                     None), timeout=20)
        page = re.search(r"https://beacon\.example\.com(/status/Contoso\?\S+)", str(answer.text))
        assert page is not None
        path, _, query = page.group(1).rstrip(".,").partition("?")
        async with aiohttp.ClientSession() as session:
            for reader in READERS:
                async with session.post(f"{beacon.url}{path}/subscribe?{query}", data={"email": reader}) as reply:
                    assert reply.status == 200
            await eventually(lambda: len(graph.sent_mail()) == 3, timeout=20, what="three confirmations")
            for mail in graph.sent_mail():
                async with session.post(beacon.url + link_after(mail.text, "confirm within 48 hours:")) as reply:
                    assert reply.status == 200

        graph.reset_next(1, path_contains="/sendMail", delay=2.0)  # one email held, then dropped
        await act(stack, root, "incident.post_update", audience="stakeholders", update=UPDATE)  # type: ignore[arg-type]

        def updates() -> list[str]:
            return sorted(a for m in graph.sent_mail() if "] Update 1 on a problem:" in m.subject for a in m.to)

        async def delivered() -> int:
            async with engine.connect() as connection:
                return len((await connection.execute(select(OutboxRow).where(
                    OutboxRow.kind == "status.subscriber_email", OutboxRow.status == "sent",
                    OutboxRow.idempotency_key.like("%:INC-1:update%")))).all())

        for _ in range(200):  # two delivered and recorded, the third on its way
            if await delivered() == 2 and len(graph.requests_to("/sendMail", "POST")) == 6:
                break
            await asyncio.sleep(0.05)
        assert await delivered() == 2 and len(updates()) == 2
        beacon.kill()
        await beacon.start()
        await eventually(lambda: len(updates()) == 3, timeout=60, what="the third update email")
        for _ in range(600):  # until every email is recorded as sent: then nothing is left to send again
            if await delivered() == 3:
                break
            await asyncio.sleep(0.1)
        assert updates() == READERS
        assert all(UPDATE in m.text for m in graph.sent_mail() if "] Update 1 on a problem:" in m.subject)
        async with engine.connect() as connection:
            rows = (await connection.execute(select(OutboxRow).where(
                OutboxRow.kind == "status.subscriber_email", OutboxRow.idempotency_key.like("%:INC-1:update%")))).all()
        assert len(rows) == 3 and {r.status for r in rows} == {"sent"}
    finally:
        await beacon.close()
        await engine.dispose()
        await teams.stop()
        await graph.stop()
