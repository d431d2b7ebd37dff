"""Durable timers (status-update cadences) inside a unit of work. Each fired timer moves with a
guarded UPDATE, so a timer someone re-armed meanwhile makes the firing void (ConcurrentUpdate)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete, func, select, tuple_, update
from sqlalchemy.orm.attributes import flag_modified

from services.errors import ConcurrentUpdate
from services.store.dialect import lock_rows, lock_what_it_reads
from services.store.tables import TimerRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

# An incident's timers, as every change locks them first (built once: the click path).
_TIMER_KINDS_OF = select(TimerRow.kind).where(TimerRow.incident_id == bindparam("incident_id"))


class Timers:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def get(self, incident_id: int, kind: str) -> TimerRow | None:
        return await self._uow.session.get(TimerRow, (incident_id, kind))

    def start(self, incident_id: int, kind: str, due_at: datetime) -> None:
        """The first timer of its kind, for an incident declared in this unit of work: it has none to
        read first (arm would look for one, a query per timer on every declaration)."""
        self._uow.session.add(TimerRow(incident_id=incident_id, kind=kind, phase="due", due_at=due_at, sequence=1))
        self._uow.wake_scheduler_on_commit()

    async def arm(self, incident_id: int, kind: str, due_at: datetime, *, advance_sequence: bool = False) -> int:
        """(Re)arm a timer for its next due time; returns the sequence of the update it stands for."""
        row = await self.get(incident_id, kind)
        if row is None:
            row = TimerRow(incident_id=incident_id, kind=kind, phase="due", due_at=due_at, sequence=1)
            self._uow.session.add(row)
            used = 0
        else:
            used = row.sequence
            row.phase, row.due_at = "due", due_at
            # Written even when it already read "due": a scheduler batch may have reminded the owner
            # and moved the timer to its grace period since it was read (that changes no incident
            # version), and the new due time under that grace phase would post an automatic update
            # without reminding the owner first.
            flag_modified(row, "phase")
            if advance_sequence:
                row.sequence += 1
        self._uow.wake_scheduler_on_commit()
        return used

    async def move(self, moves: Sequence[tuple[TimerRow, str, datetime, int]]) -> None:
        """Advance fired timers, each (timer, next phase, due at, sequence), unless someone re-armed
        one meanwhile: then ConcurrentUpdate, and this firing is void (roll the transaction back).
        Timers moved alike share one UPDATE."""
        alike: dict[tuple[str, str, datetime, int], list[TimerRow]] = defaultdict(list)
        for timer, phase, due_at, sequence in moves:
            alike[(timer.phase, phase, due_at, sequence - timer.sequence)].append(timer)
        for (was, phase, due_at, step), timers in alike.items():
            keys = [(t.incident_id, t.kind, t.due_at, t.sequence) for t in timers]
            moved = await self._uow.session.execute(
                update(TimerRow)
                .where(TimerRow.phase == was,
                       tuple_(TimerRow.incident_id, TimerRow.kind, TimerRow.due_at, TimerRow.sequence).in_(keys))
                .values(phase=phase, due_at=due_at, sequence=TimerRow.sequence + step)
                .returning(TimerRow.incident_id).execution_options(synchronize_session=False))
            if len(moved.all()) != len(keys):
                raise ConcurrentUpdate(f"timers of {len(keys)} incidents")
        if moves:
            self._uow.wake_scheduler_on_commit()

    async def drop(self, timer: TimerRow) -> None:
        """A fired timer whose incident is gone or closed."""
        await self._uow.session.delete(timer)

    async def drop_kind(self, incident_id: int, kind: str) -> None:
        """Stop one timer of an incident (an acknowledged page's escalation)."""
        await self._uow.session.execute(delete(TimerRow).where(TimerRow.incident_id == incident_id,
                                                               TimerRow.kind == kind))
        self._uow.wake_scheduler_on_commit()

    async def stop(self, incident_id: int) -> None:
        await self._uow.session.execute(delete(TimerRow).where(TimerRow.incident_id == incident_id))

    async def lock_of(self, incident_id: int) -> None:
        """Lock an incident's timers until the commit (PostgreSQL), before the incident itself: the
        order the scheduler takes them in (due timers, then their incidents), so neither waits
        for the other in a circle."""
        await lock_what_it_reads(self._uow.session, _TIMER_KINDS_OF, {"incident_id": incident_id})

    async def claim_due(self, now: datetime, limit: int) -> list[TimerRow]:
        """The timers due now, earliest first, locked for this transaction (other replicas skip them)."""
        query = lock_rows(select(TimerRow).where(TimerRow.due_at <= now).order_by(TimerRow.due_at).limit(limit),
                          self._uow.session, skip_locked=True)
        return list(await self._uow.session.scalars(query))

    async def next_due(self) -> datetime | None:
        return await self._uow.session.scalar(select(func.min(TimerRow.due_at)))
