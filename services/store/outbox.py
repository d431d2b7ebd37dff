"""The outbox as the use cases see it: queue typed effects in the current transaction.

A key already queued is not queued again, so a retried transaction or a replayed timer never sends
twice. The rows keep the format they always had (kind + JSON payload); services/outbox.py delivers
them.

Express effects (pages: someone's phone must ring now, whatever else is queued) are written already
claimed, with the delivering process's lease, and handed to that process's outbox worker the moment
their transaction commits (`ExpressLane`): no claim transaction, no place in the queue behind the
cards and emails of an alert storm. Should the process die first, the lease lapses and any worker
claims the row as it claims every lapsed one, so an express effect is delivered as surely as the
others, and once. One whose ordering key still has an effect to go out waits its turn as usual.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import ColumnElement, bindparam, exists, func, literal_column, select, true, update
from sqlalchemy.orm import aliased

from services.effects import OutboxEffect, channel_of, ordering
from services.store.dialect import insert_if_new, lock_built_once, lock_rows
from services.store.tables import UNFINISHED_STATUSES, OutboxRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


def _values(kind: str, payload: dict[str, Any], key: str, incident_id: int | None, ordering_key: str,
            due: datetime, now: datetime) -> dict[str, Any]:
    return dict(kind=kind, idempotency_key=key, payload=payload, incident_id=incident_id,
                ordering_key=ordering_key, status="pending", attempts=0, next_attempt_at=due, created_at=now,
                last_error="")


def _effect_values(effect: OutboxEffect, now: datetime, due: datetime | None = None) -> dict[str, Any]:
    return _values(effect.kind, effect.payload(), effect.idempotency_key, effect.filed_under, effect.ordering_key,
                   due or now, now)


def _unfinished(status: Any) -> ColumnElement[bool]:
    """The row is still to go out (pending or being sent). The statuses are literals, not bound
    parameters, and spelled as the predicate of the partial index ix_outbox_unfinished: a planner
    uses a partial index only when the query's WHERE clause implies its predicate as written, so
    with parameters it reads every row of the ordering key."""
    return cast(ColumnElement[bool], status.in_([literal_column(f"'{s}'") for s in UNFINISHED_STATUSES]))


def queue_heads() -> Any:
    """The first unfinished row of each ordering key (the only row of a key that may go out), as a
    recursive common table expression (`heads`: ordering_key, id) that walks the partial index
    ix_outbox_unfinished from one key to the next: a look-up per key with something to send,
    however many rows wait behind those heads. PostgreSQL (it needs LATERAL)."""
    first = aliased(OutboxRow)
    heads = (select(first.ordering_key, first.id).where(_unfinished(first.status))
             .order_by(first.ordering_key, first.id).limit(1).cte("heads", recursive=True))
    after = aliased(OutboxRow)
    following = (select(after.ordering_key, after.id)
                 .where(_unfinished(after.status), after.ordering_key > heads.c.ordering_key)
                 .order_by(after.ordering_key, after.id).limit(1).lateral("following"))
    return heads.union_all(select(following.c.ordering_key, following.c.id)
                           .select_from(heads).join(following, true()))


def _pending_behind(row: Any, ordering_key: Any, effect_id: Any, kind: Any) -> tuple[ColumnElement[bool], ...]:
    """`row` is a pending row of `kind` queued after row `effect_id` on `ordering_key`."""
    return row.ordering_key == ordering_key, row.id > effect_id, row.status == "pending", row.kind == kind


def _skipped(why: Any, done_at: Any) -> dict[str, Any]:
    """The values of a row marked skipped: `why` it was not sent, and when that was decided."""
    return {"status": "skipped", "last_error": why, "done_at": done_at, "lease_until": None}


@functools.cache
def skip_behind(postgresql: bool) -> Any:
    """A statement, built once, that marks skipped (`why`, at `now`) the pending rows of kind
    `of_kind` queued after row `claimed` on ordering key `key`, through ix_outbox_unfinished.
    PostgreSQL passes over a row another transaction holds instead of waiting for it."""
    behind = aliased(OutboxRow)
    ids = select(behind.id).where(*_pending_behind(behind, bindparam("key"), bindparam("claimed"),
                                                   bindparam("of_kind")))
    if postgresql:
        ids = ids.order_by(behind.id).with_for_update(skip_locked=True)
    return (update(OutboxRow).where(OutboxRow.id.in_(ids.scalar_subquery()))
            .values(**_skipped(bindparam("why"), bindparam("now", type_=OutboxRow.done_at.type)))
            .execution_options(synchronize_session=False))


def unfinished_before(ordering_key: Any, before_id: Any) -> ColumnElement[bool]:
    """An effect queued before `before_id` under `ordering_key` is still to go out. Both may be
    values or columns of an outer query (the outbox worker's claim)."""
    earlier = aliased(OutboxRow)
    return exists().where(earlier.ordering_key == ordering_key, earlier.id < before_id, _unfinished(earlier.status))


@dataclass(frozen=True)
class Effect:
    """A claimed outbox row, as its handler gets it (services.effects has the typed effects);
    services.outbox delivers it."""

    id: int
    kind: str
    payload: dict[str, Any]
    incident_id: int | None
    attempts: int
    key: str
    created_at: datetime | None = None
    # The outbox gives up if this attempt fails too: a handler that keeps state of its own (a
    # ticket link showing "creating…") records the failure then.
    last_attempt: bool = False

    @property
    def channel(self) -> str:
        return channel_of(self.kind)


class ExpressDelivery(Protocol):
    """The outbox worker as the express lane sees it (services.outbox.OutboxWorker)."""

    def express_lease(self) -> timedelta | None:
        """How long a claim holds, while this worker delivers (None: not started, or stopping)."""

    def deliver_now(self, effects: Sequence[Effect], lease_until: datetime) -> None:
        """Deliver effects a transaction that has just committed wrote claimed until `lease_until`."""


class ExpressLane:
    """Hands a unit of work's express effects to this process's outbox worker (set once the worker
    exists); without one, or while it is not running, they queue as any other effect."""

    def __init__(self, worker: ExpressDelivery | None = None):
        self.worker = worker

    def lease(self) -> timedelta | None:
        return self.worker.express_lease() if self.worker is not None else None

    def deliver(self, effects: Sequence[Effect], lease_until: datetime) -> None:
        if self.worker is not None:
            self.worker.deliver_now(effects, lease_until)


# Which incidents have a pending effect of a kind: alert intake asks it of every transaction's
# incidents (built once, bound per call).
_PENDING_OF_KIND = select(OutboxRow.incident_id).where(
    OutboxRow.kind == bindparam("kind"), OutboxRow.incident_id.in_(bindparam("ids", expanding=True)),
    OutboxRow.status == "pending")


class Outbox:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def add(self, effect: OutboxEffect, *, now: datetime, not_before: datetime | None = None) -> bool:
        """Queue an effect (not sent before `not_before`); False when its key was queued already."""
        if effect.express and not_before is None:
            return effect in await self._add_express([effect], now)
        return await self._insert(_effect_values(effect, now, not_before))

    async def add_many(self, effects: Sequence[OutboxEffect], *, now: datetime) -> None:
        """`add` for several effects in one statement (fewer round trips inside a click's turn)."""
        express = [effect for effect in effects if effect.express]
        if express:
            await self._add_express(express, now)
            effects = [effect for effect in effects if not effect.express]
        if effects:
            await self._uow.session.execute(insert_if_new(self._uow.session, OutboxRow),
                                            [_effect_values(effect, now) for effect in effects])
            self._uow.wake_on_commit()

    async def add_row(self, kind: str, payload: dict[str, Any], *, key: str, now: datetime,
                      incident_id: int | None = None, ordering_key: str | None = None) -> bool:
        """A row of any kind, for effects without a type (tests, tools)."""
        order = ordering_key or (ordering.incident_any(incident_id) if incident_id else ordering.unordered(kind, key))
        return await self._insert(_values(kind, payload, key, incident_id, order, now, now))

    async def _add_express(self, effects: Sequence[OutboxEffect], now: datetime) -> list[OutboxEffect]:
        """Write express effects claimed for this process's worker, to be delivered once this
        transaction commits; those it cannot take now (no worker running, or an earlier effect of
        the same ordering key still to go out) are queued as usual. Returns the effects written
        (not those whose key was queued already)."""
        lane = self._uow.express
        lease = lane.lease() if lane is not None else None
        waiting = await self._unfinished_keys({effect.ordering_key for effect in effects}) if lease else set()
        written: list[OutboxEffect] = []
        claimed: list[Effect] = []
        for effect in effects:
            values = _effect_values(effect, now)
            if lease is None or effect.ordering_key in waiting:
                if await self._insert(values):
                    written.append(effect)
                continue
            values.update(status="sending", attempts=1, lease_until=now + lease)
            row_id = await self._uow.session.scalar(
                insert_if_new(self._uow.session, OutboxRow).values(values).returning(OutboxRow.id))
            if row_id is None:
                continue  # queued already
            written.append(effect)
            waiting.add(effect.ordering_key)  # a second one of the key waits behind this one
            claimed.append(Effect(row_id, effect.kind, values["payload"], effect.filed_under, 1,
                                  effect.idempotency_key, now))
        if claimed:
            assert lane is not None and lease is not None
            self._uow.after_commit(lambda: lane.deliver(claimed, now + lease))
        return written

    async def _unfinished_keys(self, keys: Collection[str]) -> set[str]:
        """Which of these ordering keys have an effect still to go out (the partial index's range)."""
        query = select(OutboxRow.ordering_key).where(OutboxRow.ordering_key.in_(sorted(keys)),
                                                     _unfinished(OutboxRow.status))
        return set(await self._uow.session.scalars(query))

    async def _insert(self, values: dict[str, Any]) -> bool:
        result = await self._uow.session.execute(insert_if_new(self._uow.session, OutboxRow), values)
        inserted = bool(result.rowcount)  # type: ignore[attr-defined]
        if inserted:
            self._uow.wake_on_commit()
        return inserted

    async def queue_again(self, effect: OutboxEffect, *, now: datetime) -> bool:
        """Queue an effect whose earlier row ended without effect (failed or skipped) once more,
        under its own key and in its old place in its ordering key, with a fresh payload, attempt
        count and retry horizon; or queue it when it never was. False when it is still queued or
        went out (nothing is sent twice)."""
        values = _effect_values(effect, now)
        result = await self._uow.session.execute(
            update(OutboxRow).where(OutboxRow.idempotency_key == effect.idempotency_key,
                                    OutboxRow.status.in_(("failed", "skipped")))
            .values(payload=values["payload"], status="pending", attempts=0, next_attempt_at=now, created_at=now,
                    lease_until=None, last_error="", done_at=None))
        if result.rowcount:  # type: ignore[attr-defined]
            self._uow.wake_on_commit()
            return True
        return await self._insert(values)

    async def later_pending(self, effect_id: int, kind: str, incident_id: int) -> bool:
        """Whether a later effect of this kind waits for the incident (one card redraw renders the
        state the later one would)."""
        return bool(await self._uow.session.scalar(
            select(func.count()).where(OutboxRow.kind == kind, OutboxRow.incident_id == incident_id,
                                       OutboxRow.id > effect_id, OutboxRow.status == "pending")))

    async def earlier_unfinished(self, ordering_key: str, effect_id: int) -> bool:
        """Whether an effect queued before `effect_id` under `ordering_key` is still to go out."""
        return bool(await self._uow.session.scalar(select(unfinished_before(ordering_key, effect_id))))

    async def fold_into(self, effect_id: int, effect: OutboxEffect, *, kinds: Collection[str],
                        now: datetime, why: str) -> list[OutboxRow]:
        """Turn row `effect_id` into `effect`, and mark the pending rows of the same ordering key
        queued after it whose kind is one of `kinds` skipped (`why`): one post in place of many.
        Returns the rows skipped; both happen in the caller's transaction or neither does."""
        query = lock_rows(select(OutboxRow).where(
            OutboxRow.ordering_key == effect.ordering_key, OutboxRow.id > effect_id,
            OutboxRow.status == "pending", OutboxRow.kind.in_(list(kinds))).order_by(OutboxRow.id), self._uow.session)
        skipped = list(await self._uow.session.scalars(query))
        await self.skip([r.id for r in skipped], now=now, why=why)
        await self._uow.session.execute(update(OutboxRow).where(OutboxRow.id == effect_id)
                                        .values(kind=effect.kind, payload=effect.payload()))
        return skipped

    async def waiting_behind(self, effect_id: int, kind: type[OutboxEffect], ordering_key: str, *,
                             most: int) -> list[OutboxRow]:
        """Up to `most` pending rows of `kind` queued after row `effect_id` on `ordering_key` (its
        own), oldest first, locked (PostgreSQL) until the commit."""
        query = lock_rows(select(OutboxRow).where(*_pending_behind(OutboxRow, ordering_key, effect_id, kind.kind))
                          .order_by(OutboxRow.id).limit(most), self._uow.session)
        return list(await self._uow.session.scalars(query))

    async def skip(self, ids: Collection[int], *, now: datetime, why: str) -> None:
        """Mark pending rows skipped (`why`): what they say went out with another row."""
        if ids:
            await self._uow.session.execute(update(OutboxRow).where(OutboxRow.id.in_(sorted(ids)))
                                            .values(**_skipped(why, now)))

    async def set_payload(self, effect_id: int, payload: dict[str, Any]) -> None:
        """What row `effect_id` sends from now on (a retry sends it too)."""
        await self._uow.session.execute(update(OutboxRow).where(OutboxRow.id == effect_id).values(payload=payload))

    async def incidents_waiting(self, kind: type[OutboxEffect], incident_ids: Collection[int]) -> set[int]:
        """Which of these incidents have an effect of this kind pending, locked (PostgreSQL) until the
        commit so it cannot be delivered meanwhile; SQLite's writer already holds the database."""
        ids = sorted(incident_ids)
        waiting: set[int] = set()
        query = lock_built_once(_PENDING_OF_KIND, self._uow.session)
        for start in range(0, len(ids), 500):  # well under SQLite's limit on bound parameters
            found = await self._uow.session.scalars(query, {"kind": kind.kind, "ids": ids[start:start + 500]})
            waiting.update(i for i in found if i is not None)
        return waiting

    async def of_incident(self, incident_id: int, kind: type[OutboxEffect] | None = None, *,
                          key_like: str = "") -> list[OutboxRow]:
        """An incident's effects, oldest first (what the report lists as communications)."""
        query = select(OutboxRow).where(OutboxRow.incident_id == incident_id)
        if kind is not None:
            query = query.where(OutboxRow.kind == kind.kind)
        if key_like:
            query = query.where(OutboxRow.idempotency_key.like(key_like))
        return list(await self._uow.session.scalars(query.order_by(OutboxRow.id)))
