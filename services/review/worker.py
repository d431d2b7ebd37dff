"""The review's reminders: sleeps until the next one is due, fires each in its own transaction.
On PostgreSQL the timer row is locked FOR UPDATE SKIP LOCKED, so several replicas fire each
reminder exactly once. Each pass also gives resolved drills their short drill report, and once an
hour merges the response metrics' sums left by database connections that are gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from services.background import BackgroundLoop
from services.clock import Clock
from services.review.followups import fire
from services.review.settings import ReviewSettings
from services.review.tables import ReportRow
from services.review.usecases import record, thread_card
from services.store.uow import UnitOfWork

log = logging.getLogger("beacon.review")
COMPACT_EVERY = timedelta(hours=1)


class ReviewScheduler(BackgroundLoop):
    name = "review"

    def __init__(self, uow: Callable[[], UnitOfWork], settings: ReviewSettings, clock: Clock, *,
                 idle_poll: float = 5.0):
        super().__init__(clock, idle_poll)
        self._uow, self._settings = uow, settings
        self._lock = asyncio.Lock()
        self._compacted_at: datetime | None = None

    async def next_due(self) -> datetime | None:
        async with self._uow() as uow:
            return await uow.reviews.next_due()

    async def run_once(self) -> int:
        """Fire every reminder due now and write pending drill reports; returns how many."""
        done = 0
        async with self._lock:
            done += await self._drill_reports()
            while await self._fire_next():
                done += 1
            await self._compact_hourly()
        return done

    async def _compact_hourly(self) -> None:
        """Not counted as work done: the loop then sleeps until the next reminder as before."""
        now = self._clock.now()
        if self._compacted_at is not None and now - self._compacted_at < COMPACT_EVERY:
            return
        self._compacted_at = now  # a failure is logged by the loop and tried again in an hour
        async with self._uow() as uow:
            merged = await uow.reviews.compact_metric_sums()
            await uow.commit()
        if merged:
            log.info("merged %d rows of metric sums of database connections that are gone", merged)

    async def _fire_next(self) -> bool:
        now = self._clock.now()
        async with self._uow() as uow:
            timer = await uow.reviews.claim_due_timer(now)
            if timer is None:
                return False
            await fire(uow, timer, self._settings, now)
            await uow.commit()
            return True

    async def _drill_reports(self) -> int:
        async with self._uow() as uow:
            ids = await uow.reviews.drills_without_report()
        for incident_id in ids:
            with contextlib.suppress(IntegrityError):  # another replica wrote it first
                await self._drill_report(incident_id, self._clock.now())
        return len(ids)

    async def _drill_report(self, incident_id: int, now: datetime) -> None:
        async with self._uow() as uow:
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                return
            await uow.reviews.add_report(ReportRow(
                incident_id=incident_id, kind="drill", owner_name="", owner_role="", owner_email="", owner_aad="",
                requested_at=now, reminders=0, root_cause="", lessons="", impact_narrative="", completed_at=now))
            timeline = await uow.timeline.of(incident_id)
            await thread_card(uow, incident, "drill-report", {
                "card": "drill_report", "link": self._settings.links.url(incident_id, now),
                "updates": sum(1 for e in timeline if e.kind == "status_update"),
                "events": len(timeline)}, now)
            await record(uow, incident, "drill_report", None, "drill report posted", now)
            await uow.commit()
