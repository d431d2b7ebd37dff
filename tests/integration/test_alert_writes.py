"""What a storm of repeated alerts writes, on both databases: every post's receipt and every
repeat's timeline entry, in order, each kind in one statement per alert transaction rather than
one per alert."""

from __future__ import annotations

import asyncio

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
from tests.e2e.test_crash import alert
from tests.integration.helpers import statements

# The first of the crash test's storm services, whose alert builder this test posts.
CONFIG = parse_config({"services": [{"name": "service-1", "team": "shop", "criticality": "high"}],
                       "directory": {"teams": [{"name": "shop", "email": "shop@example.com"}]}})


@pytest.fixture
def deps(engine) -> Deps:
    return Deps(uow=lambda: UnitOfWork(session_factory(engine)), config=CONFIG, clock=FakeClock())


async def post(deps: Deps, sequence: int) -> str:
    body = alert(1, sequence)  # one firing alert; each sequence makes a body of its own, as Alertmanager's repeats
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
    assert [e.summary for e in repeats] == [f"Storm 1 fired again ×{n}" for n in range(2, 32)]
    assert link.count == 31
    # The first repeat ran alone and the 29 that arrived meanwhile together: two transactions,
    # each writing its receipts in one statement and its timeline entries in another.
    receipts_written = [s for s in writes if "alert_receipts" in s]
    events_written = [s for s in writes if "timeline_events" in s]
    assert len(receipts_written) == len(events_written) <= 3, writes
