"""What a storm of repeated alerts writes, on both databases: every post's receipt, in order, and
the repeats a reader of the timeline needs (×2, ×10, after a quiet spell, after resolving), each
kind in one statement per alert transaction rather than one per alert."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.alerts import PARSERS
from services.clock import FakeClock
from services.config import parse_config
from services.deps import Deps
from services.intake.alerts import QUIET_SPELL, receive_alerts
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
    # The link counts every firing; the timeline has the second and the tenth, not 30 entries.
    assert link.count == 31
    assert [e.summary for e in repeats] == ["Storm 1 fired again ×2", "Storm 1 fired again ×10"]
    # The first repeat ran alone and the 29 that arrived meanwhile together: two transactions,
    # each writing its receipts in one statement and its timeline entries in another.
    receipts_written = [s for s in writes if "alert_receipts" in s]
    events_written = [s for s in writes if "timeline_events" in s]
    assert len(events_written) <= len(receipts_written) <= 3, writes


async def test_a_repeat_is_on_the_timeline_after_a_quiet_spell_and_after_resolving(engine, deps):
    clock = deps.clock
    assert [await post(deps, n) for n in range(4)] == ["declared"] + ["repeated"] * 3
    clock.advance(QUIET_SPELL - timedelta(seconds=1))
    assert await post(deps, 4) == "repeated"  # ×5, close to the last: not news
    clock.advance(QUIET_SPELL)
    assert await post(deps, 5) == "repeated"  # ×6, the first firing in ten minutes
    resolved = alert(1, 6)
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-11-26T11:00:00Z"
    [outcome] = await receive_alerts("alertmanager", resolved, PARSERS["alertmanager"](resolved), deps)
    assert outcome.outcome == "resolved; all linked alerts resolved"
    clock.advance(timedelta(seconds=30))
    assert await post(deps, 7) == "repeated"  # ×7, firing again after it resolved
    for n in range(8, 12):
        assert await post(deps, n) == "repeated"  # ×8 … ×11: ×10 is on the timeline

    async with session_factory(engine)() as session:
        repeats = (await session.scalars(select(TimelineRow.summary).where(TimelineRow.kind == "alert_repeated")
                                         .order_by(TimelineRow.id))).all()
        link = (await session.scalars(select(AlertLinkRow))).one()
    assert repeats == [f"Storm 1 fired again ×{n}" for n in (2, 6, 7, 10)]
    assert link.count == 11 and link.status == "firing"
