"""What a storm of repeated alerts writes, on both databases: every post's receipt and every
repeat's timeline entry, in order, each kind in one statement per alert transaction rather than
one per alert."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from services.alerts import PARSERS
from services.clock import FakeClock
from services.config import parse_config
from services.deps import Deps
from services.intake.alerts import receive_alerts
from services.intake.tables import AlertLinkRow, AlertReceiptRow
from services.store.db import session_factory
from services.store.tables import TimelineRow
from services.store.uow import UnitOfWork
from tests.integration.helpers import statements

CONFIG = parse_config({"services": [{"name": "checkout", "team": "shop", "criticality": "high"}],
                       "directory": {"teams": [{"name": "shop", "email": "shop@example.com"}]}})


def firing(sequence: int) -> dict[str, Any]:
    """One Alertmanager post of the same firing alert; `sequence` makes each body differ, as
    Alertmanager's repeated notifications do."""
    labels = {"alertname": "CheckoutErrors", "service": "checkout", "severity": "critical"}
    return {"version": "4", "groupKey": '{}:{alertname="CheckoutErrors"}', "status": "firing", "receiver": "beacon",
            "groupLabels": {"alertname": "CheckoutErrors"}, "commonLabels": labels,
            "commonAnnotations": {"summary": "Checkout errors above 5%"}, "externalURL": "http://alertmanager:9093",
            "truncatedAlerts": 0,
            "alerts": [{"status": "firing", "labels": labels,
                        "annotations": {"summary": "Checkout errors above 5%", "sequence": str(sequence)},
                        "startsAt": "2026-11-26T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus:9090/graph", "fingerprint": "c0ffee00c0ffee00"}]}


@pytest.fixture
def deps(engine) -> Deps:
    return Deps(uow=lambda: UnitOfWork(session_factory(engine)), config=CONFIG, clock=FakeClock())


async def post(deps: Deps, sequence: int) -> str:
    body = firing(sequence)
    [outcome] = await receive_alerts("alertmanager", body, PARSERS["alertmanager"](body), deps)
    return outcome.outcome


async def test_thirty_repeats_at_once_are_each_stored_in_one_statement_per_kind(engine, deps):
    assert await post(deps, 0) == "declared"
    sessions = session_factory(engine)
    writes = statements(sessions, lambda sql: sql.lstrip().startswith(("INSERT INTO alert_receipts",
                                                                        "INSERT INTO timeline_events")))
    outcomes = await asyncio.gather(*(post(deps, n) for n in range(1, 31)))
    assert outcomes == ["repeated"] * 30

    async with sessions() as session:
        receipts = (await session.scalars(select(AlertReceiptRow).order_by(AlertReceiptRow.id))).all()
        repeats = (await session.scalars(select(TimelineRow).where(TimelineRow.kind == "alert_repeated")
                                         .order_by(TimelineRow.id))).all()
        link = (await session.scalars(select(AlertLinkRow))).one()
    # Every post kept verbatim with what became of it, in the order the posts were applied.
    assert [r.body["alerts"][0]["annotations"]["sequence"] for r in receipts] == [str(n) for n in range(31)]
    assert [r.outcome[0]["outcome"] for r in receipts] == ["declared"] + ["repeated"] * 30
    assert [r.outcome[0]["incident"] for r in receipts] == ["INC-1"] * 31
    # Every repeat on the timeline, counting up.
    assert [e.summary for e in repeats] == [f"CheckoutErrors fired again ×{n}" for n in range(2, 32)]
    assert link.count == 31
    # The first repeat ran alone and the 29 that arrived meanwhile together: two transactions,
    # each writing its receipts in one statement and its timeline entries in another.
    receipts_written = [s for s in writes if "alert_receipts" in s]
    events_written = [s for s in writes if "timeline_events" in s]
    assert len(receipts_written) == len(events_written) <= 3, writes
