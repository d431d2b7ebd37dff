"""The scheduler: sleeps until the next timer is due, then fires each due timer in its own
transaction. On PostgreSQL the timer row is locked FOR UPDATE SKIP LOCKED, so several replicas
fire each timer exactly once; the firing and its effects commit together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from services.background import BackgroundLoop
from services.clock import Clock
from services.config import BeaconConfig
from services.scheduler.fire import fire
from services.store.uow import ConcurrentUpdate, UnitOfWork

log = logging.getLogger("beacon.scheduler")


class Scheduler(BackgroundLoop):
    name = "scheduler"

    def __init__(self, uow: Callable[[], UnitOfWork], config: BeaconConfig, clock: Clock, *,
                 idle_poll: float = 5.0):
        super().__init__(clock, idle_poll)
        self._uow = uow
        self._config = config
        self._lock = asyncio.Lock()
        self.fired = 0

    async def run_once(self) -> int:
        """Fire every timer due now; returns how many fired."""
        fired = 0
        async with self._lock:
            while not self._stopping and await self._fire_next():
                fired += 1
        self.fired += fired
        return fired

    async def _fire_next(self) -> bool:
        now = self._clock.now()
        try:
            async with self._uow() as uow:
                timer = await uow.claim_due_timer(now)
                if timer is None:
                    return False
                await fire(uow, timer, self._config, now)
                await uow.commit()
                return True
        except ConcurrentUpdate:
            return True  # a responder changed the incident meanwhile: the timer is tried again

    async def next_due(self) -> datetime | None:
        async with self._uow() as uow:
            return await uow.next_timer_due()
