"""Alert receipts are kept ALERT_RECEIPTS_KEEP (30 days by default), then deleted oldest first, a
batch per transaction, on both databases; what the alerts did (the incident, its timeline, the
alert's link and count) stays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from services.intake.retention import ReceiptPruner
from services.intake.settings import IntakeSettings
from services.intake.tables import AlertLinkRow, AlertReceiptRow
from services.store.db import session_factory
from services.store.tables import IncidentRow, TimelineRow
from tests.integration.test_alert_writes import deps, post  # noqa: F401 (deps: the same fixture)


async def kept(engine) -> tuple[list[str], int, int, int]:
    """The sequences of the receipts left, and the incidents, timeline entries and link count."""
    async with session_factory(engine)() as session:
        receipts = (await session.scalars(select(AlertReceiptRow).order_by(AlertReceiptRow.id))).all()
        incidents = await session.scalar(select(func.count()).select_from(IncidentRow))
        entries = await session.scalar(select(func.count()).select_from(TimelineRow))
        link = (await session.scalars(select(AlertLinkRow))).one()
    return [r.body["alerts"][0]["annotations"]["sequence"] for r in receipts], incidents or 0, entries or 0, link.count


async def test_receipts_older_than_the_retention_go_a_batch_at_a_time_and_what_the_alerts_did_stays(engine, deps):
    clock = deps.clock
    assert [await post(deps, n) for n in range(5)] == ["declared"] + ["repeated"] * 4  # day 0
    clock.advance(timedelta(days=20))
    assert [await post(deps, n) for n in (5, 6)] == ["repeated"] * 2  # day 20
    sequences, incidents, entries, count = await kept(engine)
    assert (sequences, incidents, count) == ([str(n) for n in range(7)], 1, 7)

    pruner = ReceiptPruner(deps.uow, clock, timedelta(days=30), batch=2)
    assert await pruner.run_once() == 0  # day 20: nothing is 30 days old yet
    clock.advance(timedelta(days=11))  # day 31: day 0's five are past the retention, day 20's are not
    assert [await pruner.run_once() for _ in range(4)] == [2, 2, 1, 0]
    assert await kept(engine) == (["5", "6"], 1, entries, 7)

    clock.advance(timedelta(days=20))  # day 51: the rest go too
    assert await pruner.run_once() == 2
    assert await kept(engine) == ([], 1, entries, 7)


def test_the_retention_is_an_iso_duration_of_days_hours_or_minutes() -> None:
    assert IntakeSettings(_env_file=None).alert_receipts_keep == timedelta(days=30)  # type: ignore[call-arg]
    assert IntakeSettings(_env_file=None, ALERT_RECEIPTS_KEEP="P90D").alert_receipts_keep == timedelta(days=90)  # type: ignore[call-arg]
    for wrong, says in (("30 days", "not an ISO 8601 duration"), ("P1M", "days, hours, minutes or seconds"),
                        ("PT0S", "must be a positive duration")):
        with pytest.raises(ValidationError, match=says) as raised:
            IntakeSettings(_env_file=None, ALERT_RECEIPTS_KEEP=wrong)  # type: ignore[call-arg]
        assert "ALERT_RECEIPTS_KEEP" in str(raised.value)
