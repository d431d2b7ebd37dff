"""Delivers outbox rows: each effect on the outside exactly as often as it succeeds once.

Rows are claimed with a lease (on PostgreSQL with FOR UPDATE SKIP LOCKED, so replicas never take
the same row) that the worker renews while the delivery runs, so a killed process's claims lapse
within seconds, delivered by the handler for their kind, then marked sent, rescheduled with
exponential backoff and jitter (honouring Retry-After), or failed after a bounded number of
tries. Effects that share an ordering key (one incident's Teams posts) go out in order.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from services.background import BackgroundLoop
from services.clock import Clock
from services.delivery import DeliveryError, NotConfigured
from services.incidents import TimelineEvent
from services.store.db import while_unavailable_retry
from services.store.mapping import event_row
from services.store.tables import IncidentRow, OutboxRow

log = logging.getLogger("beacon.outbox")


@dataclass(frozen=True)
class Effect:
    id: int
    kind: str
    payload: dict[str, Any]
    incident_id: int | None
    attempts: int
    key: str
    # The outbox gives up if this attempt fails too: a handler that keeps state of its own (a
    # ticket link showing "creating…") records the failure then.
    last_attempt: bool = False


EffectHandler = Callable[[Effect], Awaitable[None]]


@dataclass
class OutboxPolicy:
    max_attempts: int = 6
    base_backoff: float = 1.0
    max_backoff: float = 300.0
    # How long a claim holds without renewal. A worker renews its claims every third of it while
    # their deliveries run, so a process killed mid-delivery holds its rows back only this long.
    lease: timedelta = timedelta(seconds=15)
    idle_poll: float = 2.0
    batch: int = 20
    record_patience: float = 300.0  # how long to keep retrying the record of a delivery while the database is away


class OutboxWorker(BackgroundLoop):
    name = "outbox"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], handlers: dict[str, EffectHandler],
                 clock: Clock, policy: OutboxPolicy | None = None):
        self._sessions = sessions
        self.policy = policy or OutboxPolicy()
        super().__init__(clock, self.policy.idle_poll)
        self._handlers = handlers
        self.counts = {"sent": 0, "failed": 0, "retried": 0, "skipped": 0}

    async def next_due(self) -> datetime | None:
        async with self._sessions() as session:
            return await session.scalar(select(func.min(OutboxRow.next_attempt_at))
                                        .where(OutboxRow.status == "pending"))

    async def run_once(self) -> int:
        """Deliver everything due now; returns how many effects were attempted."""
        effects = await self._claim()
        if effects:
            renewing = asyncio.create_task(self._renew_leases([e.id for e in effects]))
            try:
                await asyncio.gather(*(self._deliver(e) for e in effects))
            finally:
                renewing.cancel()
        return len(effects)

    async def _renew_leases(self, ids: list[int]) -> None:
        """Keep the claim on rows still being delivered (a slow answer must not let another
        replica take the row and deliver it a second time)."""
        interval = self.policy.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._sessions() as session, session.begin():
                    await session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids),
                                                                  OutboxRow.status == "sending")
                                          .values(lease_until=self._clock.now() + self.policy.lease))
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away; the deliveries' own updates will tell
                log.warning("could not renew the outbox lease of %s", ids, exc_info=True)

    async def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing is due (tests and shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.run_once() and loop.time() < deadline:
            pass

    async def _claim(self) -> list[Effect]:
        """Take due rows in one UPDATE … RETURNING, so two claimers can never take the same row."""
        now = self._clock.now()
        candidate, earlier = aliased(OutboxRow), aliased(OutboxRow)
        blocked = exists().where(and_(earlier.ordering_key == candidate.ordering_key,
                                      earlier.id < candidate.id,
                                      earlier.status.in_(("pending", "sending"))))
        due = or_(and_(candidate.status == "pending", candidate.next_attempt_at <= now),
                  and_(candidate.status == "sending", candidate.lease_until < now))
        ids = select(candidate.id).where(due, ~blocked).order_by(candidate.id).limit(self.policy.batch)
        async with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # Replicas skip rows another one is claiming instead of claiming them again.
                ids = ids.with_for_update(skip_locked=True)
            due_ids = ids.cte("due_ids")
            claim = (update(OutboxRow).where(OutboxRow.id == due_ids.c.id)
                     .values(status="sending", lease_until=now + self.policy.lease,
                             attempts=OutboxRow.attempts + 1)
                     .returning(OutboxRow.id, OutboxRow.kind, OutboxRow.payload, OutboxRow.incident_id,
                                OutboxRow.attempts, OutboxRow.idempotency_key))
            rows = (await session.execute(claim)).all()
        return sorted((Effect(r.id, r.kind, dict(r.payload), r.incident_id, r.attempts, r.idempotency_key,
                              last_attempt=r.attempts >= self.policy.max_attempts) for r in rows),
                      key=lambda e: e.id)

    async def _deliver(self, effect: Effect) -> None:
        handler = self._handlers.get(effect.kind)
        try:
            if handler is None:
                raise DeliveryError(f"no handler for {effect.kind}")
            await handler(effect)
        except NotConfigured as error:
            await self._finish(effect, "skipped", str(error), note=str(error))
        except DeliveryError as error:
            await self._failed_attempt(effect, error, transient=error.transient,
                                       retry_after=error.retry_after)
        except Exception as error:  # a bug or an unexpected library error: retry, bounded
            log.exception("effect %s (%s) raised", effect.id, effect.kind)
            await self._failed_attempt(effect, error, transient=True, retry_after=None)
        else:
            await self._finish(effect, "sent", "")

    async def _failed_attempt(self, effect: Effect, error: Exception, *, transient: bool,
                              retry_after: float | None) -> None:
        message = f"{type(error).__name__}: {error}"
        if transient and effect.attempts < self.policy.max_attempts:
            backoff = min(self.policy.max_backoff, self.policy.base_backoff * 2 ** (effect.attempts - 1))
            delay = max(retry_after or 0.0, backoff * random.uniform(0.5, 1.0))
            log.warning("effect %s (%s) attempt %d failed, retry in %.1fs: %s", effect.id, effect.kind,
                        effect.attempts, delay, message)
            self.counts["retried"] += 1
            await self._update(effect, status="pending", last_error=message,
                               next_attempt_at=self._clock.now() + timedelta(seconds=delay))
            return
        log.error("effect %s (%s) failed for good after %d attempts: %s", effect.id, effect.kind,
                  effect.attempts, message)
        await self._finish(effect, "failed", message,
                           note=f"failed to deliver {describe(effect)}: {error}")

    async def _finish(self, effect: Effect, status: str, error: str, note: str | None = None) -> None:
        self.counts[status] += 1
        await self._update(effect, status=status, last_error=error, done_at=self._clock.now(),
                           note=note)

    async def _update(self, effect: Effect, note: str | None = None, **values: Any) -> None:
        """Record how a delivery went. The effect has happened (or not) whatever the database says,
        so while the database is away keep trying: dropping the record would deliver it again."""
        await while_unavailable_retry(lambda: self._record(effect, note, **values),
                                      patience=self.policy.record_patience, what=f"the record of effect {effect.id}")

    async def _record(self, effect: Effect, note: str | None = None, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(OutboxRow).where(OutboxRow.id == effect.id)
                                  .values(lease_until=None, **values))
            if note and effect.incident_id:
                version = await session.scalar(select(IncidentRow.version)
                                               .where(IncidentRow.id == effect.incident_id))
                event = TimelineEvent("delivery_" + values["status"], self._clock.now(), None, note,
                                      after={"effect": effect.kind, "key": effect.key})
                session.add(event_row(effect.incident_id, version or 0, event))


def describe(effect: Effect) -> str:
    return effect.payload.get("description") or effect.kind
