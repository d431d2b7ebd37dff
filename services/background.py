"""The shape every background worker shares: work while there is work, then sleep until the next
due time (or a wake-up, or the idle poll for changes made by other replicas), and on stop finish
the pass in flight and return."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from services.clock import Clock


class BackgroundLoop:
    name = "background"

    def __init__(self, clock: Clock, idle_poll: float):
        self._clock = clock
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the pass in flight, then return from run() (graceful shutdown)."""
        self._stopping = True
        self._wake.set()

    async def run_once(self) -> int:
        """Do everything due now; returns how much was done."""
        raise NotImplementedError

    async def next_due(self) -> datetime | None:
        """When the next piece of work falls due, if known."""
        return None

    async def run(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away; keep the worker alive
                logging.getLogger(f"beacon.{self.name}").exception("%s pass failed", self.name)
                done = 0
            if not done and not self._stopping:
                await self._sleep_until_due()

    async def _sleep_until_due(self) -> None:
        delay = self._idle_poll
        with contextlib.suppress(Exception):
            due = await self.next_due()
            if due is not None:
                delay = min(delay, max(0.0, (due - self._clock.now()).total_seconds()))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)


class StartupTask:
    """Work done once after the migrations (e.g. a look-up the first request would otherwise wait
    for), run beside the loops so a slow outside system never delays serving."""

    def __init__(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._job = job

    async def run(self) -> None:
        try:
            await self._job()
        except asyncio.CancelledError:
            raise
        except Exception:
            logging.getLogger(f"beacon.{self.name}").exception("%s failed", self.name)

    def stop(self) -> None:
        """Nothing to finish: a look-up cut short is done again when it is first needed."""
