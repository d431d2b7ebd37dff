"""One database transaction: the incident change, its timeline events and its outbox rows commit
together or not at all."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Table, and_, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import flag_modified

from services.incidents import OPEN_STATUSES, Incident, Person, TimelineEvent
from services.store.db import take_the_writer_turn
from services.store.dialect import insert_if_new, lock_rows
from services.store.mapping import event_from_row, event_row, event_values, incident_from_row, incident_values
from services.store.outbox import Outbox
from services.store.tables import (
    IncidentRow,
    InstallationRow,
    PersonRow,
    ProcessedActivityRow,
    ThreadRow,
    TimelineRow,
    TimerRow,
)


class ConcurrentUpdate(Exception):
    """Someone else changed the incident between our read and our write."""


# Statements of the click path, built once: building one with .values() per call cost more than
# running it, and a click holds SQLite's writer lock from its first write to its commit. Core
# tables, not ORM entities: these writes need no identity-map bookkeeping.
def _table(entity: type[Any]) -> Table:
    return cast(Table, entity.__table__)


_SAVE_INCIDENT = update(_table(IncidentRow)).where(_table(IncidentRow).c.id == bindparam("_id"),
                                                   _table(IncidentRow).c.version == bindparam("_read_version"))
_INSERT_EVENTS = insert(_table(TimelineRow))


# Per database (engine): people's names and user ids as this process last committed them.
_KNOWN_PEOPLE: WeakKeyDictionary[Any, dict[str, tuple[str, str | None]]] = WeakKeyDictionary()


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 on_outbox: Callable[[], None] | None = None):
        self._sessions = sessions
        self._on_outbox = on_outbox
        self._queued = False
        self._people_stored: dict[str, tuple[str, str | None]] = {}
        self.session: AsyncSession
        self.outbox = Outbox(self)

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        await self.session.begin()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.session.in_transaction():
            # Keep what was read usable after a read-only unit of work (rollback would expire it).
            self.session.expunge_all()
            await self.session.rollback()
        await self.session.close()

    async def write_first(self) -> None:
        """On SQLite, take the writer's turn now, before reading: what is read cannot change before
        this unit of work commits. PostgreSQL keeps optimistic locking (ConcurrentUpdate)."""
        await take_the_writer_turn(self.session)

    def wake_on_commit(self) -> None:
        """Something was queued or a timer moved: wake the background workers once this commits."""
        self._queued = True

    async def commit(self) -> None:
        await self.session.commit()
        if self._people_stored:
            known = self._known_people()
            if len(known) > 10_000:
                known.clear()
            known.update(self._people_stored)
            self._people_stored.clear()
        if self._queued and self._on_outbox:
            self._on_outbox()
        self._queued = False

    # -- incidents ---------------------------------------------------------------------------
    async def get_incident(self, incident_id: int) -> Incident | None:
        row = await self.session.get(IncidentRow, incident_id, populate_existing=True)
        return incident_from_row(row) if row else None

    async def add_incident(self, incident: Incident, *, config_version: str) -> Incident:
        row = IncidentRow(version=1, config_version=config_version, **incident_values(incident))
        self.session.add(row)
        await self.session.flush()
        incident.id, incident.version = row.id, 1
        await self._write_events(incident)
        return incident

    async def save_incident(self, incident: Incident) -> Incident:
        """Write a changed incident if nobody else did since it was read (optimistic locking)."""
        assert incident.id is not None
        result = await self.session.execute(_SAVE_INCIDENT, {
            "_id": incident.id, "_read_version": incident.version, "version": incident.version + 1,
            **incident_values(incident)})
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentUpdate(incident.number)
        incident.version += 1
        await self._write_events(incident)
        return incident

    async def _write_events(self, incident: Incident) -> None:
        assert incident.id is not None
        if incident.pending_events:
            await self.session.execute(_INSERT_EVENTS, [event_values(incident.id, incident.version, event)
                                                        for event in incident.pending_events])
        incident.pending_events.clear()

    async def record_event(self, incident_id: int, event: TimelineEvent, version: int) -> None:
        """A timeline entry that changes no incident field (e.g. a delivery failure)."""
        self.session.add(event_row(incident_id, version, event))

    async def record_events(self, events: Sequence[tuple[int, int, TimelineEvent]]) -> None:
        """Several timeline entries, each (incident id, incident version, event), in one statement."""
        if events:
            await self.session.execute(_INSERT_EVENTS, [event_values(incident_id, version, event)
                                                        for incident_id, version, event in events])

    async def open_incidents(self, limit: int = 50) -> list[Incident]:
        rows = await self.session.scalars(
            select(IncidentRow).where(IncidentRow.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(IncidentRow.id.desc()).limit(limit))
        return [incident_from_row(r) for r in rows]

    async def incidents(self, incident_ids: Collection[int], *, lock: bool = False) -> dict[int, Incident]:
        """Several incidents by id. With `lock`, on PostgreSQL they stay locked until the commit, taken
        in id order so that two writers of the same incidents cannot deadlock."""
        query = select(IncidentRow).where(IncidentRow.id.in_(incident_ids)).order_by(IncidentRow.id)
        if lock:
            query = lock_rows(query, self.session)
        return {row.id: incident_from_row(row) for row in await self.session.scalars(query)}

    async def save_incidents(self, changes: Sequence[tuple[Incident, Incident]]) -> None:
        """save_incident for several incidents, each given as read and as changed, with their pending
        events. Incidents changed alike (the same columns to the same values) share one UPDATE. If
        anyone changed one since it was read, raises ConcurrentUpdate: roll the transaction back."""
        alike: dict[str, tuple[dict[str, Any], list[Incident]]] = {}
        for read, changed in changes:
            before, after = incident_values(read), incident_values(changed)
            values = {column: value for column, value in after.items() if value != before[column]}
            alike.setdefault(repr(sorted(values.items())), (values, []))[1].append(changed)
        for values, incidents in alike.values():
            keys = [(incident.id, incident.version) for incident in incidents]
            saved = await self.session.scalars(
                update(IncidentRow).where(tuple_(IncidentRow.id, IncidentRow.version).in_(keys))
                .values(version=IncidentRow.version + 1, **values).returning(IncidentRow.id)
                .execution_options(synchronize_session=False))
            if len(saved.all()) != len(keys):
                raise ConcurrentUpdate(", ".join(incident.number for incident in incidents))
        events = []
        for _, incident in changes:
            incident.version += 1
            events += [(incident.id or 0, incident.version, event) for event in incident.pending_events]
            incident.pending_events.clear()
        await self.record_events(events)

    async def timeline(self, incident_id: int) -> list[TimelineEvent]:
        rows = await self.session.scalars(
            select(TimelineRow).where(TimelineRow.incident_id == incident_id).order_by(TimelineRow.id))
        return [event_from_row(r) for r in rows]

    async def events_after_version(self, incident_id: int, version: int) -> list[TimelineEvent]:
        rows = await self.session.scalars(
            select(TimelineRow).where(TimelineRow.incident_id == incident_id,
                                      TimelineRow.incident_version > version).order_by(TimelineRow.id))
        return [event_from_row(r) for r in rows]

    async def changes_since_last_update(self, incident_ids: Collection[int], *, leave_out: Collection[str],
                                        limit: int) -> dict[int, list[TimelineEvent]]:
        """For each incident, its latest `limit` timeline entries since its last status update,
        oldest first, leaving out the kinds in `leave_out`: what a draft update summarises, read
        without the rest of the timeline."""
        last_update = (select(func.max(TimelineRow.id))
                       .where(TimelineRow.incident_id == IncidentRow.id, TimelineRow.kind == "status_update")
                       .scalar_subquery())
        since = (select(IncidentRow.id, func.coalesce(last_update, 0).label("after"))
                 .where(IncidentRow.id.in_(incident_ids)).subquery())
        recent = (select(TimelineRow.id, func.row_number().over(partition_by=TimelineRow.incident_id,
                                                                  order_by=TimelineRow.id.desc()).label("rank"))
                  .join(since, and_(TimelineRow.incident_id == since.c.id, TimelineRow.id > since.c.after))
                  .where(TimelineRow.kind.not_in(leave_out)).subquery())
        rows = await self.session.scalars(select(TimelineRow).join(recent, TimelineRow.id == recent.c.id)
                                          .where(recent.c.rank <= limit).order_by(TimelineRow.id))
        found: dict[int, list[TimelineEvent]] = defaultdict(list)
        for row in rows:
            found[row.incident_id].append(event_from_row(row))
        return found

    async def sequenced_events(self, kind: str, incident_ids: Collection[int],
                               sequences: Collection[int]) -> list[tuple[int, dict[str, Any]]]:
        """Timeline entries of one kind whose details carry one of these sequence numbers:
        (incident id, details) each."""
        rows = await self.session.execute(
            select(TimelineRow.incident_id, TimelineRow.after)
            .where(TimelineRow.incident_id.in_(incident_ids), TimelineRow.kind == kind,
                   TimelineRow.after["sequence"].as_integer().in_(sequences)))
        return [(incident_id, after or {}) for incident_id, after in rows]

    async def _insert_new(self, table: type[Any], values: dict[str, Any]) -> bool:
        """INSERT … ON CONFLICT DO NOTHING in one statement (the write lock is held for fewer
        round trips than a look-up followed by an insert); False when the row existed."""
        result = await self.session.execute(insert_if_new(self.session, table), values)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- durable timers ----------------------------------------------------------------------
    async def timer(self, incident_id: int, kind: str) -> TimerRow | None:
        return await self.session.get(TimerRow, (incident_id, kind))

    async def set_timer(self, incident_id: int, kind: str, due_at: datetime, *,
                        advance_sequence: bool = False) -> int:
        """(Re)arm a timer for its next due time; returns the sequence of the update it stands for."""
        row = await self.timer(incident_id, kind)
        if row is None:
            row = TimerRow(incident_id=incident_id, kind=kind, phase="due", due_at=due_at, sequence=1)
            self.session.add(row)
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
        self._queued = True
        return used

    async def move_timers(self, moves: Sequence[tuple[TimerRow, str, datetime, int]]) -> None:
        """Advance fired timers, each (timer, next phase, due at, sequence), unless someone re-armed
        one meanwhile: then ConcurrentUpdate, and this firing is void (roll the transaction back).
        Timers moved alike share one UPDATE."""
        alike: dict[tuple[str, str, datetime, int], list[TimerRow]] = defaultdict(list)
        for timer, phase, due_at, sequence in moves:
            alike[(timer.phase, phase, due_at, sequence - timer.sequence)].append(timer)
        for (was, phase, due_at, step), timers in alike.items():
            keys = [(t.incident_id, t.kind, t.due_at, t.sequence) for t in timers]
            moved = await self.session.execute(
                update(TimerRow)
                .where(TimerRow.phase == was,
                       tuple_(TimerRow.incident_id, TimerRow.kind, TimerRow.due_at, TimerRow.sequence).in_(keys))
                .values(phase=phase, due_at=due_at, sequence=TimerRow.sequence + step)
                .returning(TimerRow.incident_id).execution_options(synchronize_session=False))
            if len(moved.all()) != len(keys):
                raise ConcurrentUpdate(f"timers of {len(keys)} incidents")
        self._queued = self._queued or bool(moves)

    async def stop_timers(self, incident_id: int) -> None:
        await self.session.execute(delete(TimerRow).where(TimerRow.incident_id == incident_id))

    async def claim_due_timers(self, now: datetime, limit: int) -> list[TimerRow]:
        """The timers due now, earliest first, locked for this transaction (other replicas skip them)."""
        query = lock_rows(select(TimerRow).where(TimerRow.due_at <= now).order_by(TimerRow.due_at).limit(limit),
                          self.session, skip_locked=True)
        return list(await self.session.scalars(query))

    async def next_timer_due(self) -> datetime | None:
        return await self.session.scalar(select(func.min(TimerRow.due_at)))

    # -- invokes already applied -------------------------------------------------------------
    async def mark_processed(self, activity_id: str, incident_id: int | None, now: datetime) -> bool:
        """Remember an invoke; False when it was seen before (a replay)."""
        return await self._insert_new(ProcessedActivityRow, dict(activity_id=activity_id, incident_id=incident_id,
                                                                 processed_at=now))

    async def was_processed(self, activity_id: str) -> bool:
        return await self.session.get(ProcessedActivityRow, activity_id) is not None

    # -- threads, installations, people ------------------------------------------------------
    async def thread(self, incident_id: int, purpose: str = "incident") -> ThreadRow | None:
        return await self.session.get(ThreadRow, (incident_id, purpose))

    async def save_thread(self, **values: Any) -> None:
        values.setdefault("purpose", "incident")
        existing = await self.session.get(ThreadRow, (values["incident_id"], values["purpose"]))
        if existing is None:
            self.session.add(ThreadRow(**values))

    async def installation(self, conversation_id: str) -> InstallationRow | None:
        return await self.session.get(InstallationRow, conversation_id)

    async def save_installation(self, **values: Any) -> InstallationRow:
        row = await self.session.get(InstallationRow, values["conversation_id"])
        if row is None:
            row = InstallationRow(greeted=False, **values)
            self.session.add(row)
        else:
            for key, value in values.items():
                if key != "installed_at":
                    setattr(row, key, value)
        await self.session.flush()
        return row

    async def installation_for_channel(self, channel_id: str) -> InstallationRow | None:
        return await self.session.scalar(
            select(InstallationRow).where(InstallationRow.channel_id == channel_id).limit(1))

    async def any_team_installation(self, tenant_id: str = "") -> InstallationRow | None:
        query = select(InstallationRow).where(InstallationRow.kind == "team")
        if tenant_id:
            query = query.where(InstallationRow.tenant_id == tenant_id)
        return await self.session.scalar(query.order_by(InstallationRow.installed_at).limit(1))

    async def remember_people(self, people: list[Person], now: datetime) -> None:
        """Keep the names Teams shows for people. Most actions come from someone already known by
        the same name: this process remembers what it stored, so they cost no read (an action holds
        SQLite's writer turn while it runs)."""
        known = self._known_people()
        for person in people:
            if not person.aad_object_id or not person.name:
                continue
            stored = known.get(person.aad_object_id)
            if stored and stored[0] == person.name and (not person.user_id or stored[1] == person.user_id):
                continue
            row = await self.session.get(PersonRow, person.aad_object_id)
            if row is None:
                row = PersonRow(aad_object_id=person.aad_object_id, name=person.name, user_id=person.user_id,
                                email="", updated_at=now)
                self.session.add(row)
            elif row.name != person.name or (person.user_id and row.user_id != person.user_id):
                row.name, row.user_id, row.updated_at = person.name, person.user_id or row.user_id, now
            self._people_stored[person.aad_object_id] = (row.name, row.user_id)

    def _known_people(self) -> dict[str, tuple[str, str | None]]:
        return _KNOWN_PEOPLE.setdefault(self.session.get_bind(), {})

    async def people(self, aad_object_ids: list[str]) -> dict[str, Person]:
        if not aad_object_ids:
            return {}
        rows = await self.session.scalars(select(PersonRow).where(PersonRow.aad_object_id.in_(aad_object_ids)))
        return {r.aad_object_id: Person(r.aad_object_id, r.name, r.user_id) for r in rows}

