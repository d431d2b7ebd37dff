"""The review's reminders: sleeps until the next one is due, fires each in its own transaction.
On PostgreSQL the timer row is locked FOR UPDATE SKIP LOCKED, so several replicas fire each
reminder exactly once. Each pass also gives resolved drills their short drill report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.background import BackgroundLoop
from services.clock import Clock
from services.incidents import Status
from services.review import store
from services.review.followups import fire
from services.review.settings import ReviewSettings
from services.review.tables import ReportRow
from services.review.usecases import record, thread_card
from services.store.tables import IncidentRow
from services.store.uow import UnitOfWork

log = logging.getLogger("beacon.review")


class ReviewScheduler(BackgroundLoop):
    name = "review"

    def __init__(self, uow: Callable[[], UnitOfWork], settings: ReviewSettings, clock: Clock, *,
                 idle_poll: float = 5.0):
        super().__init__(clock, idle_poll)
        self._uow, self._settings = uow, settings
        self._lock = asyncio.Lock()

    async def next_due(self) -> datetime | None:
        async with self._uow() as uow:
            return await store.next_due(uow)

    async def run_once(self) -> int:
        """Fire every reminder due now and write pending drill reports; returns how many."""
        done = 0
        async with self._lock:
            done += await self._drill_reports()
            while await self._fire_next():
                done += 1
        return done

    async def _fire_next(self) -> bool:
        now = self._clock.now()
        async with self._uow() as uow:
            timer = await store.claim_due_timer(uow, now)
            if timer is None:
                return False
            await fire(uow, timer, self._settings, now)
            await uow.commit()
            return True

    async def _drill_reports(self) -> int:
        async with self._uow() as uow:
            ids = list(await uow.session.scalars(
                select(IncidentRow.id).where(IncidentRow.drill.is_(True),
                                             IncidentRow.status.in_([Status.RESOLVED.value, Status.CLOSED.value]),
                                             ~IncidentRow.id.in_(select(ReportRow.incident_id)))))
        for incident_id in ids:
            with contextlib.suppress(IntegrityError):  # another replica wrote it first
                await self._drill_report(incident_id, self._clock.now())
        return len(ids)

    async def _drill_report(self, incident_id: int, now: datetime) -> None:
        async with self._uow() as uow:
            incident = await uow.get_incident(incident_id)
            if incident is None:
                return
            uow.session.add(ReportRow(incident_id=incident_id, kind="drill", owner_name="", owner_role="",
                                      owner_email="", owner_aad="", requested_at=now, reminders=0,
                                      root_cause="", lessons="", impact_narrative="", completed_at=now))
            await uow.session.flush()
            timeline = await uow.timeline(incident_id)
            await thread_card(uow, incident, "drill-report", {
                "card": "drill_report", "link": self._settings.links.url(incident_id, now),
                "updates": sum(1 for e in timeline if e.kind == "status_update"),
                "events": len(timeline)}, now)
            await record(uow, incident, "drill_report", None, "drill report posted", now)
            await uow.commit()
