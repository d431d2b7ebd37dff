"""How long alert receipts are kept: every monitoring post is stored verbatim with what Beacon did
with it (table `alert_receipts`), which is what someone asking "what did the monitor send, and why
did it open no incident?" reads. A monitor that re-sends every few minutes for a year would grow
that table without end, so receipts older than ALERT_RECEIPTS_KEEP are deleted, in small batches
(each its own short transaction, so alert posts never wait long behind one), at start and every
hour after. The incidents, their timelines and the alert links are kept: they carry what the
alerts did, and the post-incident report reads those."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from services.background import BackgroundLoop
from services.clock import Clock
from services.store.uow import UnitOfWork

EVERY = 3600.0  # seconds between passes once the old receipts are gone
BATCH = 1000  # receipts deleted per transaction


class ReceiptPruner(BackgroundLoop):
    name = "alert receipts"

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, keep: timedelta, *, batch: int = BATCH,
                 every: float = EVERY):
        super().__init__(clock, idle_poll=every)
        self._uow, self._keep, self._batch = uow, keep, batch

    async def run_once(self) -> int:
        """Delete one batch of the receipts older than the retention; how many (0: none left)."""
        async with self._uow() as uow:
            pruned = await uow.alerts.prune_receipts(self._clock.now() - self._keep, self._batch)
            await uow.commit()
        return pruned
