"""Every way an incident changes goes through the same steps (services.pipeline): a change an
alert makes follows the same plan as one made from a card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest_asyncio
from sqlalchemy import select

from services.alerts import parse_alertmanager
from services.clock import FakeClock
from services.deps import Deps
from services.intake.alerts import receive_alerts
from services.lifecycle import IncidentAction, act_on_incident
from services.store.db import create_engine, migrate, session_factory
from services.store.tables import OutboxRow
from services.store.uow import UnitOfWork
from services.verbs import Verb
from tests.integration.helpers import ALICE, declare, payments_config

ALERTS = Path(__file__).resolve().parents[1] / "data" / "alerts"
CONFIG = payments_config({"responder_update_high": "PT1H", "responder_update_other": "PT3H",
                          "stakeholder_update": "PT2H", "grace": "PT10M"})


@pytest_asyncio.fixture
async def deps(database_url):
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    yield Deps(uow=lambda: UnitOfWork(sessions), config=CONFIG, clock=FakeClock())
    await engine.dispose()


async def name_lookups(deps: Deps) -> list[str]:
    async with deps.uow() as uow:
        return list(await uow.session.scalars(select(OutboxRow.idempotency_key).where(
            OutboxRow.kind == "teams.resolve_people").order_by(OutboxRow.id)))


async def test_an_alert_that_reopens_an_incident_asks_teams_for_the_names_of_people_picked_by_id(deps):
    """A commander picked in the people picker arrives as an id only; whichever change redraws the
    card next, a click or an alert, asks Teams for the name, so the card never shows a bare id."""
    incident_id = await declare(deps, commander="aad-picked-by-id")
    for status in ("investigating", "monitoring"):
        outcome = await act_on_incident(IncidentAction(Verb.STATUS, incident_id, None, {"status": status}, ALICE),
                                        deps)
        assert outcome.applied, outcome.notice
    clicked = await name_lookups(deps)
    assert clicked == [f"incident:{incident_id}:people:v{version}" for version in (2, 3, 4)]

    body = json.loads((ALERTS / "alertmanager_v4_payments_firing.json").read_text())
    outcomes = await receive_alerts("alertmanager", body, parse_alertmanager(body), deps)

    assert [o.outcome for o in outcomes][:1] == ["reopened"]
    assert await name_lookups(deps) == [*clicked, f"incident:{incident_id}:people:v5"]
