"""The card's reads (the latest update, what a stale card missed, the alerts, the bridge) are Core
reads built once, not ORM queries; inside one unit of work they still see what it recorded through
the ORM and has not flushed yet (the session flushes before any statement it runs; read through the
connection instead, the first test fails), and the alert links it wrote."""

from __future__ import annotations

from datetime import timedelta

import pytest_asyncio

from services.clock import FakeClock
from services.deps import Deps
from services.incidents import TimelineEvent
from services.intake.summary import intake_summary
from services.store.db import session_factory
from services.store.uow import UnitOfWork
from tests.integration.helpers import ALICE, declare, payments_config

CONFIG = payments_config({"responder_update_high": "PT1H", "responder_update_other": "PT3H",
                          "stakeholder_update": "PT2H", "grace": "PT10M"})


@pytest_asyncio.fixture
async def deps(engine):
    sessions = session_factory(engine)
    return Deps(uow=lambda: UnitOfWork(sessions), config=CONFIG, clock=FakeClock())


async def test_an_update_recorded_in_the_same_unit_of_work_is_the_latest_update_the_card_shows(deps):
    incident_id = await declare(deps)
    async with deps.uow() as uow:
        incident = await uow.incidents.get(incident_id)
        assert incident is not None
        now = deps.clock.now() + timedelta(minutes=5)
        await uow.timeline.record(incident_id, TimelineEvent(
            "status_update", now, ALICE, "Update to responders", after={"text": "Failing over to the replica"}),
            incident.version)
        latest = await uow.timeline.latest(incident_id, "status_update")
        missed, count = await uow.timeline.latest_after_version(
            incident_id, incident.version - 1, leave_out=(), limit=5, count_up_to=100)
    assert latest is not None and latest.after == {"text": "Failing over to the replica"}
    assert [e.summary for e in missed][-1] == "Update to responders" and count >= len(missed)


async def test_an_alert_linked_in_the_same_unit_of_work_is_on_the_card(deps):
    incident_id = await declare(deps)
    async with deps.uow() as uow:
        now = deps.clock.now()
        await uow.alerts.add_link(dict(
            incident_id=incident_id, source="alertmanager", alert_key="0123456789abcdef", service="payments-api",
            rule="HighErrorRate", severity="critical", summary="5xx over 5%", link="", status="firing", count=1,
            declared=False, first_at=now, last_at=now))
        summary = await intake_summary(uow, incident_id)
    assert [(line.rule, line.status) for line in summary.alerts] == [("HighErrorRate", "firing")]
