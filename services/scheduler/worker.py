"""The scheduler: sleeps until the next timer is due, then fires each due timer in its own
transaction. On PostgreSQL the timer row is locked FOR UPDATE SKIP LOCKED, so several replicas
fire each timer exactly once; the firing and its effects commit together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from services.clock import Clock
from services.config import BeaconConfig
from services.scheduler.fire import fire
from services.store.uow import ConcurrentUpdate, UnitOfWork

log = logging.getLogger("beacon.scheduler")


class Scheduler:
    def __init__(self, uow: Callable[[], UnitOfWork], config: BeaconConfig, clock: Clock, *,
                 idle_poll: float = 5.0):
        self._uow = uow
        self._config = config
        self._clock = clock
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stopping = False
        self.fired = 0

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                fired = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler pass failed")
                fired = 0
            if not fired and not self._stopping:
                await self._sleep_until_due()

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

    async def _sleep_until_due(self) -> None:
        delay = self._idle_poll
        with contextlib.suppress(Exception):
            async with self._uow() as uow:
                due = await uow.next_timer_due()
            if due is not None:
                delay = min(delay, max(0.0, (due - self._clock.now()).total_seconds()))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)
