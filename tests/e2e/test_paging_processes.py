"""Paging across `kill -9` and across replicas: real Beacon processes, fake Teams and Twilio.

What the person on call would check: each level of the escalation paged once (never twice, never
skipped) although the process that armed it died during the level, or although several replicas
share the timers on one PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.store.db import create_engine
from services.store.tables import OutboxRow, TimelineRow
from tests.e2e.helpers import eventually
from tests.e2e.paging_helpers import ADA, ADA_PHONE, ALERTS_TOKEN, BEARER, GRACE, GRACE_PHONE, alert, paging_config
from tests.fakes.connector import FakeConnector
from tests.fakes.sms import FakeTwilio
from tests.processes import BeaconProcess
from tests.teams_activities import installation_update

pytestmark = pytest.mark.slow
PAGE_SMS = re.compile(r"^INC-(\d+) P1: .* Ack: ")


def environment(twilio: FakeTwilio) -> dict[str, str]:
    return {"ALERTS_WEBHOOK_TOKEN": ALERTS_TOKEN, "SMS_PROVIDER": "twilio", "SMS_FROM": "+15005550006",
            "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_BASE_URL": twilio.url, "ACK_LINK_SECRET": "replicas-share-this-secret",
            "BEACON_PUBLIC_URL": "https://beacon.example"}


def pages(twilio: FakeTwilio, number: str) -> Counter[int]:
    """SMS pages to `number`, per incident."""
    return Counter(int(m.group(1)) for sent in twilio.sent if sent.to == number and (m := PAGE_SMS.match(sent.text)))


async def unfinished_page_sms(database_url: str) -> int:
    """Page SMS effects Twilio may have received whose outcome Beacon has not recorded yet."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(OutboxRow.status).where(OutboxRow.kind == "page.sms"))).all()
    finally:
        await engine.dispose()
    return sum(row.status not in ("sent", "failed", "skipped") for row in rows)


async def timeline_kinds(database_url: str) -> Counter[tuple[int, str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(TimelineRow.incident_id, TimelineRow.kind))).all()
    finally:
        await engine.dispose()
    return Counter((row.incident_id, row.kind) for row in rows)


@asynccontextmanager
async def fakes() -> AsyncIterator[tuple[FakeConnector, FakeTwilio]]:
    async with FakeConnector() as teams, FakeTwilio() as twilio:
        for person in (ADA, GRACE):
            teams.add_member(person)
        yield teams, twilio


async def test_kill_during_a_level_then_the_next_level_pages_exactly_once(tmp_path: Path, database_url: str):
    async with fakes() as (teams, twilio):
        config = paging_config(after="PT10S", last_after="PT3S")  # long enough to kill it during level 1, however slow
        beacon = BeaconProcess(tmp_path, database_url, config, **environment(twilio))
        try:
            await beacon.start()
            await beacon.post("/api/messages", installation_update(service_url=teams.url))
            status, _ = await beacon.post("/api/alerts/alertmanager", alert(), BEARER)
            assert status == 200
            await eventually(lambda: pages(twilio, ADA_PHONE)[1] == 1, timeout=20, what="level 1 pages Ada")
            # Killed during level 1, once Ada's SMS is recorded as sent (Twilio takes no idempotency key,
            # so an SMS killed mid-send may go twice: that is a different case): its timer is armed, level 2
            # not yet paged.
            for _ in range(100):
                if not await unfinished_page_sms(database_url):
                    break
                await asyncio.sleep(0.1)
            beacon.kill()
            assert beacon.process is not None and beacon.process.returncode == -9
            assert not pages(twilio, GRACE_PHONE)

            await beacon.start()
            await eventually(lambda: pages(twilio, GRACE_PHONE)[1] == 1, timeout=40, what="level 2 pages Grace")
            # Past level 2's wait: the thread is told nobody acknowledged; nothing paged again.
            for _ in range(100):
                kinds = await timeline_kinds(database_url)
                if kinds[(1, "page_unanswered")]:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)
            kinds = await timeline_kinds(database_url)
            assert kinds[(1, "paged")] == 2 and kinds[(1, "escalated")] == 1 and kinds[(1, "page_unanswered")] == 1
            assert pages(twilio, ADA_PHONE) == Counter({1: 1}) and pages(twilio, GRACE_PHONE) == Counter({1: 1})
        finally:
            await beacon.close()


async def test_two_replicas_on_postgresql_page_each_level_exactly_once(tmp_path: Path, database_url: str):
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share one PostgreSQL")
    incidents = 6
    config: dict[str, Any] = paging_config(after="PT2S")
    config["services"] = [{**config["services"][0], "name": f"payments-{n}"} for n in range(incidents)]
    config["alert_routing"] = {"rules": [{"match": {"labels": {"service": f"payments-{n}"}}, "service": f"payments-{n}"}
                                         for n in range(incidents)]}
    async with fakes() as (teams, twilio):
        replicas = [BeaconProcess(tmp_path, database_url, config, name=f"replica-{n}", **environment(twilio))
                    for n in range(2)]
        try:
            await asyncio.gather(*(r.start() for r in replicas))
            await replicas[0].post("/api/messages", installation_update(service_url=teams.url))
            for n in range(incidents):
                body = alert(f"Down{n}")
                for item in body["alerts"]:
                    item["labels"]["service"] = f"payments-{n}"
                body["commonLabels"]["service"] = f"payments-{n}"
                status, answer = await replicas[n % 2].post("/api/alerts/alertmanager", body, BEARER)
                assert status == 200 and answer["alerts"][0]["outcome"] == "declared", answer
            wanted = Counter({n: 1 for n in range(1, incidents + 1)})
            await eventually(lambda: pages(twilio, GRACE_PHONE) == wanted, timeout=30, what="every level 2")
            for _ in range(100):
                kinds = await timeline_kinds(database_url)
                if all(kinds[(n, "page_unanswered")] for n in wanted):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.5)
            kinds = await timeline_kinds(database_url)
            for n in wanted:
                assert (kinds[(n, "paged")], kinds[(n, "escalated")], kinds[(n, "page_unanswered")]) == (2, 1, 1), n
            assert pages(twilio, ADA_PHONE) == wanted and pages(twilio, GRACE_PHONE) == wanted
            personal = Counter(m.conversation_id for m in teams.posted("a:"))
            assert sorted(personal.values()) == [incidents, incidents]  # Ada's and Grace's chats: one page each
        finally:
            await asyncio.gather(*(r.close() for r in replicas))
