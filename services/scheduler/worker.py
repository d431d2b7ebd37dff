"""The scheduler: sleeps until the next timer is due, then fires the due timers in batches, one
transaction each. On PostgreSQL the claimed timer rows are locked FOR UPDATE SKIP LOCKED, so several
replicas fire each timer exactly once; a batch's firings and their effects commit together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from services.background import BackgroundLoop
from services.clock import Clock
from services.config import BeaconConfig
from services.errors import ConcurrentUpdate
from services.paging.directory import FeedShifts, no_feeds
from services.scheduler.fire import StatusUrl, fire_due, no_status_url
from services.store.uow import UnitOfWork
from services.tracing import span

log = logging.getLogger("beacon.scheduler")


class Scheduler(BackgroundLoop):
    name = "scheduler"

    def __init__(self, uow: Callable[[], UnitOfWork], config: BeaconConfig, clock: Clock, *,
                 idle_poll: float = 5.0, batch: int = 1000, feeds: FeedShifts = no_feeds,
                 status_url: StatusUrl = no_status_url):
        super().__init__(clock, idle_poll)
        self._uow = uow
        self._config = config
        self._feeds = feeds
        self._status_url = status_url
        self._lock = asyncio.Lock()
        self._batch = batch
        self._size = batch
        self.fired = 0

    async def run_once(self) -> int:
        """Fire every timer due now; returns how many fired."""
        fired = 0
        async with self._lock:
            while not self._stopping:
                done = await self._fire_batch()
                if done == 0:
                    break
                fired += done or 0
        self.fired += fired
        return fired

    async def _fire_batch(self) -> int | None:
        """Fire up to a batch of due timers; None when a responder's change raced the batch."""
        now = self._clock.now()
        try:
            async with self._uow() as uow:
                due = await uow.timers.claim_due(now, self._size)
                if not due:
                    return 0
                with span("scheduler batch", incidents=[f"INC-{t.incident_id}" for t in due],
                          **{"beacon.timers": len(due)}):
                    fired = await fire_due(uow, due, self._config, now, self._feeds, self._status_url)
                    await uow.commit()
        except ConcurrentUpdate as conflict:
            # Nothing of the batch was kept: its timers are tried again and read the change. Smaller
            # batches meanwhile waste less work if an incident keeps changing under them.
            log.debug("scheduler batch of %d raced a change (%s); retrying", self._size, conflict)
            self._size = max(1, self._size // 2)
            return None
        self._size = min(self._batch, self._size * 2)
        return fired

    async def next_due(self) -> datetime | None:
        async with self._uow() as uow:
            return await uow.timers.next_due()
