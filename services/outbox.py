"""Delivers outbox rows: each effect on the outside exactly as often as it succeeds once.

Rows are claimed with a lease (on PostgreSQL with FOR UPDATE SKIP LOCKED, so replicas never take
the same row) that the worker renews while the delivery runs, so a killed process's claims lapse
within seconds, delivered by the handler for their kind, then marked sent, rescheduled with
capped exponential backoff and jitter (honouring Retry-After), or failed. Effects that share an
ordering key (one incident's Teams posts) go out in order.

When to give up depends on what failed, not only on how often: a permanent failure (a 4xx such
as 403 "bot not in the conversation") fails at once; a transient one retries up to
`max_attempts`, except on a channel with a retry horizon (Teams: TEAMS_RETRY_HORIZON), where it
retries until the effect is that old, because Teams outages are exactly when incidents happen.
A 429, or an effect waiting for another (services.delivery.NotYet), never uses up an attempt.

Up to `concurrency` deliveries run at once and the worker claims more as they end, so a slow
answer delays only its own row; deliveries that end together are recorded in one transaction.
Pages skip the queue: the transaction that queues one writes it claimed by this worker, which
starts delivering it as that transaction commits (`deliver_now`; services.store.outbox.ExpressLane).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from services.background import BackgroundLoop
from services.clock import Clock
from services.delivery import DeliveryError, NotConfigured, NotYet
from services.effects import OutboxEffect, channel_of, effect_type
from services.incidents import TimelineEvent
from services.store.db import database_unavailable, while_unavailable_retry
from services.store.group_commit import GroupCommit
from services.store.mapping import event_row
from services.store.outbox import Effect, queue_heads, skip_behind, unfinished_before
from services.store.tables import IncidentRow, OutboxRow
from services.tracing import incident_number, span

log = logging.getLogger("beacon.outbox")


# The effect this task is delivering (each delivery runs in a task of its own), for what an
# adapter does on its behalf without being handed it: pacing keeps a Teams turn per effect.
delivering: ContextVar[Effect | None] = ContextVar("beacon_delivering", default=None)

# Why a card redraw was not sent (the report lists it so): one queued before it went out after its change.
COVERED = "not needed: a later refresh of the card already showed this change"

EffectHandler = Callable[[Effect], Awaitable[None]]
# Handlers by effect type (or, for rows without one, by kind): the worker finds them by the row's kind.
EffectHandlers = Mapping[type[OutboxEffect] | str, EffectHandler]


def handlers_by_kind(handlers: EffectHandlers) -> dict[str, EffectHandler]:
    return {key if isinstance(key, str) else key.kind: handler for key, handler in handlers.items()}


@dataclass(frozen=True)
class _Outcome:
    effect: Effect
    note: str | None
    values: dict[str, Any]


@dataclass
class OutboxPolicy:
    max_attempts: int = 6
    # Channel → how long after it was queued a transiently failing effect keeps being retried, e.g.
    # {Channel.TEAMS: 24 h}; channels without one give up after max_attempts.
    horizons: dict[str, timedelta] = field(default_factory=dict)
    base_backoff: float = 1.0
    max_backoff: float = 30.0  # a Teams outage ends: the thread catches up within half a minute
    # How long a claim holds without renewal. A worker renews its claims every third of it while
    # their deliveries run, so a process killed mid-delivery holds its rows back only this long.
    lease: timedelta = timedelta(seconds=15)
    idle_poll: float = 2.0
    batch: int = 100  # most rows one claim takes
    concurrency: int = 8  # most deliveries in flight at once
    # Channel → most deliveries started per second by this process, e.g. {Channel.TEAMS: 50}: Teams
    # allows an app 50 requests per second per tenant and answers 429 beyond.
    rate_limits: dict[str, float] = field(default_factory=dict)
    record_patience: float = 300.0  # how long to keep retrying the record of a delivery while the database is away
    # Woken by a commit, the worker waits this long before it claims, so that the commits of a
    # burst (twenty responders clicking) cost one claim, not one or two each: every claim is a
    # write transaction, and on SQLite a turn on the one writer lock the clicks queue on too.
    # Pages do not wait for it (the express lane).
    wake_gather: float = 0.02


class OutboxWorker(BackgroundLoop):
    name = "outbox"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], handlers: Mapping[str, EffectHandler],
                 clock: Clock, policy: OutboxPolicy | None = None):
        self._sessions = sessions
        self.policy = policy or OutboxPolicy()
        super().__init__(clock, self.policy.idle_poll)
        self._handlers = handlers  # by kind
        self.counts = {"sent": 0, "failed": 0, "retried": 0, "skipped": 0}
        self._running: dict[asyncio.Task[None], int] = {}  # delivery in flight → its row
        self._serving = False  # inside run(): express effects are written claimed for this worker
        self._renewing: asyncio.Task[None] | None = None
        # Deliveries that end together are recorded in one transaction: on SQLite each commit is
        # an fsync and a turn on the one writer lock, which capped delivery at ~100 a second.
        self._records = GroupCommit[_Outcome, None](most=500, alone_after=lambda e: not database_unavailable(e))
        # A burst of a tenth of a second's worth, then an even pace: no one-second window sees much
        # more than the rate.
        self._paces = {str(channel): AsyncLimiter(max(1.0, rate / 10), max(1.0, rate / 10) / rate)
                       for channel, rate in self.policy.rate_limits.items() if rate > 0}

    async def next_due(self) -> datetime | None:
        """When the next row falls due that is not queued behind an earlier one of its ordering key
        (a row waiting behind a retry's backoff is due only when that retry is)."""
        async with self._sessions() as session:
            return await session.scalar(select(func.min(OutboxRow.next_attempt_at))
                                        .where(OutboxRow.status == "pending", ~_blocked(OutboxRow)))

    async def run(self) -> None:
        """Keep up to `policy.concurrency` deliveries in flight: claim more as slots free up, so one
        slow answer (up to the connector's 30 s timeout) holds back only itself."""
        self._serving = True
        try:
            while not self._stopping:
                started, asked = 0, min(self._free(), self.policy.batch)
                if self._can_claim():
                    try:
                        started = await self._start_due()
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # the database may be briefly away; keep the worker alive
                        log.exception("outbox claim failed")
                if self._stopping:
                    break
                if started >= asked and self._free():
                    continue  # a full claim: more may be due (otherwise the next commit wakes it)
                if self._running:
                    await self._until_a_delivery_ends()
                else:
                    await self._sleep_until_due()
        finally:
            self._serving = False
            await self._settle()

    def express_lease(self) -> timedelta | None:
        """The lease an express effect is written with, while this worker runs and can deliver it."""
        return self.policy.lease if self._serving and not self._stopping else None

    def deliver_now(self, effects: Sequence[Effect], lease_until: datetime) -> None:
        """Start delivering effects a transaction that has just committed wrote claimed for this
        worker until `lease_until` (pages), beside whatever else is in flight. If that lease is
        too close to its end to be renewed in time (the transaction took that long to commit),
        they are left to lapse: the claim of lapsed rows takes them then, and no other worker can
        take them before."""
        if self._stopping or self._clock.now() >= lease_until - self.policy.lease / 3:  # the renewal interval
            return
        self._launch([replace(e, last_attempt=not self._may_retry(e.kind, e.attempts, e.created_at))
                      for e in effects])

    async def run_once(self) -> int:
        """Claim what is due now (up to the free slots), deliver it and wait until every delivery
        in flight has been recorded; returns how many effects this pass claimed."""
        started = await self._start_due()
        if self._running:
            await asyncio.wait(list(self._running))
        return started

    async def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing is due (tests and shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.run_once() and loop.time() < deadline:
            pass

    def _free(self) -> int:
        return max(0, self.policy.concurrency - len(self._running))

    def _can_claim(self) -> bool:
        """Whether enough slots are free to claim again: a quarter of them (a claim per finished
        delivery would cost a write transaction each). Both the claim and the wait for new work ask
        this, so a wake never comes while nothing could be claimed (the worker would spin)."""
        return self._free() >= max(1, min(self.policy.batch, self.policy.concurrency // 4))

    async def _start_due(self) -> int:
        self._wake.clear()
        effects = await self._claim(min(self._free(), self.policy.batch))
        # A row of ours whose lease lapsed while it was still being delivered (the clock jumped, or
        # the loop stalled past the renewals) is claimed again: its delivery in flight records it.
        in_flight = set(self._running.values())
        effects = [effect for effect in effects if effect.id not in in_flight]
        self._launch(effects)
        return len(effects)

    def _launch(self, effects: Sequence[Effect]) -> None:
        """A delivery task per effect, with its lease renewed while it runs."""
        for effect in effects:
            task = asyncio.create_task(self._deliver(effect), name=f"outbox-{effect.id}")
            self._running[task] = effect.id
            task.add_done_callback(self._delivery_ended)
        if effects and (self._renewing is None or self._renewing.done()):
            self._renewing = asyncio.create_task(self._renew_leases(), name="outbox-leases")

    def _delivery_ended(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        if not task.cancelled() and task.exception() is not None:  # recording failed past its patience
            log.error("outbox delivery could not be recorded", exc_info=task.exception())

    async def _until_a_delivery_ends(self) -> None:
        """Wait for a delivery to end, or, with enough slots free to claim again, for new work or
        the idle poll."""
        waits: set[asyncio.Future[Any]] = set(self._running)
        woken = asyncio.ensure_future(self._wake.wait())
        if self._can_claim():
            waits.add(woken)
        try:
            await asyncio.wait(waits, timeout=self._idle_poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        await self._gather_wakes()

    async def _sleep_until_due(self) -> None:
        await super()._sleep_until_due()
        await self._gather_wakes()

    async def _gather_wakes(self) -> None:
        """After a wake by a commit, let the rest of its burst commit too (policy.wake_gather)."""
        if self._wake.is_set() and not self._stopping and self.policy.wake_gather > 0:
            await asyncio.sleep(self.policy.wake_gather)

    async def _settle(self) -> None:
        """On stop, let the deliveries in flight finish and be recorded."""
        try:
            if self._running:
                await asyncio.wait(list(self._running))
        finally:
            for task in list(self._running):
                task.cancel()
            if self._renewing is not None:
                self._renewing.cancel()

    async def _renew_leases(self) -> None:
        """Keep the claim on rows still being delivered (a slow answer must not let another
        replica take the row and deliver it a second time)."""
        interval = self.policy.lease.total_seconds() / 3
        while self._running:
            await asyncio.sleep(interval)
            ids = list(self._running.values())
            if not ids:
                return
            try:
                # Rows locked in id order, skipping any a delivery is finishing right now (it needs no
                # renewal): two transactions taking the same rows in different orders deadlocked on PostgreSQL.
                mine = (select(OutboxRow.id).where(OutboxRow.id.in_(ids), OutboxRow.status == "sending")
                        .order_by(OutboxRow.id).with_for_update(skip_locked=True))
                async with self._sessions() as session, session.begin():
                    await session.execute(update(OutboxRow).where(OutboxRow.id.in_(mine))
                                          .values(lease_until=self._clock.now() + self.policy.lease))
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away; the deliveries' own updates will tell
                log.warning("could not renew the outbox lease of %d rows", len(ids), exc_info=True)

    async def _claim(self, most: int) -> list[Effect]:
        """Take due rows with UPDATE … RETURNING, so two claimers can never take the same row:
        first rows whose claim lapsed (their worker died), then pending rows, oldest first."""
        if most <= 0:
            return []
        now = self._clock.now()
        values = {"now": now, "lease_until": now + self.policy.lease}
        rows: list[Any] = []
        async with self._sessions() as session, session.begin():
            postgresql = session.get_bind().dialect.name == "postgresql"
            for lapsed in (True, False):
                if len(rows) < most:
                    claim = _claim_statement(postgresql, lapsed=lapsed)
                    rows += (await session.execute(claim, {**values, "most": most - len(rows)})).all()
            await self._skip_covered(session, rows, now, postgresql=postgresql)
        return sorted((Effect(r.id, r.kind, dict(r.payload), r.incident_id, r.attempts, r.idempotency_key,
                              r.created_at, last_attempt=not self._may_retry(r.kind, r.attempts, r.created_at))
                       for r in rows), key=lambda e: e.id)

    async def _skip_covered(self, session: AsyncSession, claimed: Sequence[Any], now: datetime, *,
                            postgresql: bool) -> None:
        """Mark skipped the rows that a claimed card redraw makes needless: the pending ones of its
        kind queued behind it on its ordering key (its incident's Teams posts). Each was queued by a
        transaction that has committed (this one sees it), and the claimed redraw renders the
        incident after this commit, so it shows their changes too. A click queues a redraw each,
        and Teams' limits let a busy thread take a few a second: without this the worker claimed,
        checked and recorded every one of them in turn. On PostgreSQL a row another transaction
        holds (an alert intake that counts on it going out after its commit) is passed over and
        goes out itself."""
        for row in claimed:
            found = effect_type(row.kind)
            if found is not None and found.shows_current_state:
                result = await session.execute(skip_behind(postgresql), {
                    "key": row.ordering_key, "claimed": row.id, "of_kind": row.kind, "why": COVERED, "now": now})
                self.counts["skipped"] += result.rowcount  # type: ignore[attr-defined]

    def _may_retry(self, kind: str, attempts: int, created_at: datetime | None, *, counted: bool = True) -> bool:
        """Whether a transient failure of this attempt would be tried again: within the channel's
        horizon, else within max_attempts (an attempt that does not count always may)."""
        horizon = self.policy.horizons.get(channel_of(kind))
        if horizon is not None and created_at is not None:
            return self._clock.now() < created_at + horizon
        return not counted or attempts < self.policy.max_attempts

    async def _deliver(self, effect: Effect) -> None:
        with span(f"deliver {effect.kind}", incident=incident_number(effect.incident_id),
                  **{"beacon.outbox.kind": effect.kind, "beacon.outbox.attempt": effect.attempts}):
            await self._deliver_traced(effect)

    async def _deliver_traced(self, effect: Effect) -> None:
        handler = self._handlers.get(effect.kind)
        delivering.set(effect)
        try:
            if handler is None:
                raise DeliveryError(f"no handler for {effect.kind}")
            pace = self._paces.get(effect.channel)
            if pace is not None:
                await pace.acquire()
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
        counted = getattr(error, "counts_as_attempt", True)
        attempts = effect.attempts if counted else effect.attempts - 1
        if transient and self._may_retry(effect.kind, effect.attempts, effect.created_at, counted=counted):
            if retry_after is not None and not counted:
                delay = retry_after  # asked to wait this long: no backoff of our own on top
            else:
                backoff = min(self.policy.max_backoff, self.policy.base_backoff * 2 ** max(0, attempts - 1))
                delay = max(retry_after or 0.0, backoff * random.uniform(0.5, 1.0))
            # Waiting for a turn or for another effect is the plan, not a failure: no warning.
            log.log(logging.INFO if isinstance(error, NotYet) else logging.WARNING,
                    "effect %s (%s) attempt %d failed, retry in %.1fs: %s", effect.id, effect.kind,
                    effect.attempts, delay, message)
            self.counts["retried"] += 1
            await self._update(effect, status="pending", last_error=message, attempts=attempts,
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
        outcome = _Outcome(effect, note, {"lease_until": None, **values})
        await while_unavailable_retry(lambda: self._records.submit(outcome, self._record),
                                      patience=self.policy.record_patience, what=f"the record of effect {effect.id}")

    async def _record(self, outcomes: list[_Outcome]) -> list[None]:
        """One transaction for every outcome waiting: an UPDATE by primary key per shape of values
        (executemany), and the timeline entries of failures and skips."""
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for outcome in outcomes:
            shapes.setdefault(tuple(sorted(outcome.values)), []).append({"id": outcome.effect.id, **outcome.values})
        async with self._sessions() as session, session.begin():
            for rows in shapes.values():
                await session.execute(update(OutboxRow), rows)
            noted = [o for o in outcomes if o.note and o.effect.incident_id]
            if noted:
                found = await session.execute(select(IncidentRow.id, IncidentRow.version)
                                             .where(IncidentRow.id.in_({o.effect.incident_id for o in noted})))
                versions = {row.id: row.version for row in found}
                for outcome in noted:
                    effect = outcome.effect
                    event = TimelineEvent("delivery_" + outcome.values["status"], self._clock.now(), None,
                                          outcome.note or "", after={"effect": effect.kind, "key": effect.key})
                    session.add(event_row(effect.incident_id or 0, versions.get(effect.incident_id or 0, 0), event))
        return [None] * len(outcomes)


@functools.cache
def _claim_statement(postgresql: bool, *, lapsed: bool) -> Any:
    """A claim, built once (its parameters are bound per call): rows due now, oldest first, that
    are not queued behind an earlier row of their ordering key. Pending rows and lapsed claims are
    claimed by separate statements: one condition over both would make the database read and sort
    every pending row of a backlog instead of walking the (status, id) index to the limit.

    PostgreSQL looks only at the first unfinished row of each ordering key (queue_heads), so a
    claim costs a look-up per key, not one per row waiting behind a thread's paced post: with 3,000
    notes queued behind one, the claim that checked each of them took 12 ms of the server's time,
    and a busy incident claims after nearly every click. SQLite, in the process and without LATERAL,
    keeps the check per row, which costs it about 2 ms at that backlog."""
    candidate = aliased(OutboxRow)
    now = bindparam("now", type_=OutboxRow.next_attempt_at.type)
    due = (and_(candidate.status == "sending", candidate.lease_until < now) if lapsed else
           and_(candidate.status == "pending", candidate.next_attempt_at <= now))
    if postgresql:  # replicas skip rows another one is claiming instead of claiming them again
        # The heads' ids as one array, looked up by primary key: a join would let the planner walk
        # the whole table in id order, every row ever sent included, to merge it with the heads.
        heads = func.array(select(queue_heads().c.id).scalar_subquery())
        ids = (select(candidate.id).where(candidate.id == func.any(heads), due)
               .order_by(candidate.id).limit(bindparam("most")).with_for_update(skip_locked=True))
    else:
        ids = select(candidate.id).where(due, ~_blocked(candidate)).order_by(candidate.id).limit(bindparam("most"))
    due_ids = ids.cte("due_ids")
    return (update(OutboxRow).where(OutboxRow.id == due_ids.c.id)
            .values(status="sending", lease_until=bindparam("lease_until", type_=OutboxRow.lease_until.type),
                    attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow.id, OutboxRow.kind, OutboxRow.payload, OutboxRow.incident_id,
                       OutboxRow.attempts, OutboxRow.idempotency_key, OutboxRow.created_at, OutboxRow.ordering_key))


def _blocked(candidate: Any) -> Any:
    """An earlier row of the same ordering key is still to go out."""
    return unfinished_before(candidate.ordering_key, candidate.id)


def describe(effect: Effect) -> str:
    return effect.payload.get("description") or effect.kind
