"""Incidents and their timelines, read and written inside a unit of work.

Every change of an incident is saved with optimistic locking (the version it was read at) and its
timeline events are written in the same transaction; a lost race raises ConcurrentUpdate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, exists, func, insert, select, true, tuple_, update

from services.comms.messages import RESPONDERS
from services.errors import ConcurrentUpdate
from services.incidents import OPEN_STATUSES, Incident, TimelineEvent
from services.store.db import take_the_writer_turn
from services.store.dialect import lock_built_once, lock_rows, wait_for_locks_at_most
from services.store.mapping import event_from_row, event_row, event_values, incident_from_row, incident_values
from services.store.tables import IncidentRow, ThreadRow, TimelineRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


def not_a_drill(incident_id: Any) -> ColumnElement[bool]:
    """The row (its incident id column) is not about a drill. Drills are few and found by
    `ix_incidents_drill` (migration 0032) once per statement: a metric over a window of pages or
    ticket links joined to each row's incident read every incident row of the window instead."""
    drills = select(IncidentRow.id).where(IncidentRow.drill == true()).scalar_subquery()
    return cast(ColumnElement[bool], incident_id.not_in(drills))


# Statements of the click path, built once: building one with .values() per call cost more than
# running it, and a click holds SQLite's writer lock from its first write to its commit. Core
# tables, not ORM entities: these writes need no identity-map bookkeeping.
def _table(entity: type[Any]) -> Table:
    return cast(Table, entity.__table__)


_SAVE_INCIDENT = update(_table(IncidentRow)).where(_table(IncidentRow).c.id == bindparam("_id"),
                                                   _table(IncidentRow).c.version == bindparam("_read_version"))
_INSERT_EVENTS = insert(_table(TimelineRow))
# The click path's reads, built once with their values bound per call: building a select, and its
# cache key, cost more than running it (a stale card's read of what changed meanwhile: ~0.9 ms of
# the event loop's time built per call, ~0.25 ms built once). They read Core rows: these reads
# change nothing, so the ORM's identity map and instances were bookkeeping (~80 µs an incident).
_INCIDENTS, _TIMELINE = _table(IncidentRow), _table(TimelineRow)
_INCIDENT_BY_ID = select(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("incident_id"))
_LATEST_OF_KIND = (select(_TIMELINE).where(_TIMELINE.c.incident_id == bindparam("incident_id"),
                                           _TIMELINE.c.kind == bindparam("kind"))
                   .order_by(_TIMELINE.c.id.desc()).limit(1))


def _latest_after_version() -> Any:
    """The latest `limit` entries after `version` but of the kinds `leave_out`, newest first, each
    with how many there are (counted from the index up to `count_up_to`, once)."""
    def since(table: Table) -> tuple[ColumnElement[bool], ...]:
        return (table.c.incident_id == bindparam("incident_id"), table.c.incident_version > bindparam("version"),
                table.c.kind.not_in(bindparam("leave_out", expanding=True)))

    entry = _TIMELINE.alias("entry")
    counted = select(entry.c.incident_version).where(*since(entry)).limit(bindparam("count_up_to")).subquery()
    total = select(func.count()).select_from(counted).scalar_subquery()
    return (select(_TIMELINE, total.label("total")).where(*since(_TIMELINE))
            .order_by(_TIMELINE.c.incident_version.desc(), _TIMELINE.c.id.desc()).limit(bindparam("limit")))


_LATEST_AFTER_VERSION = _latest_after_version()
# How long a change waits for the incident it changes before it gives up and tries again.
LOCK_WAIT_SECONDS = 5.0


class Incidents:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def get(self, incident_id: int) -> Incident | None:
        row = (await self._uow.session.execute(_INCIDENT_BY_ID, {"incident_id": incident_id})).first()
        return incident_from_row(row) if row else None  # type: ignore[arg-type]

    async def get_to_change(self, incident_id: int) -> Incident | None:
        """The incident, read to be changed by this unit of work: no one changes it before the
        commit, so concurrent writers queue rather than race and retry. SQLite: this process's
        writer turn, taken before the read. PostgreSQL: the incident's timers, then its row, locked
        until the commit, in that order because the scheduler locks due timers before their
        incidents. A lock wait over LOCK_WAIT_SECONDS fails (dialect.lost_a_lock_wait): the caller
        rolls back and tries again, so no one keeps a pooled connection waiting long."""
        session = self._uow.session
        await take_the_writer_turn(session)
        await wait_for_locks_at_most(session, LOCK_WAIT_SECONDS)
        await self._uow.timers.lock_of(incident_id)
        row = (await session.execute(lock_built_once(_INCIDENT_BY_ID, session), {"incident_id": incident_id})).first()
        return incident_from_row(row) if row else None  # type: ignore[arg-type]

    async def add(self, incident: Incident, *, config_version: str) -> Incident:
        session = self._uow.session
        row = IncidentRow(version=1, config_version=config_version, **incident_values(incident))
        session.add(row)
        await session.flush()
        incident.id, incident.version = row.id, 1
        await self._uow.timeline.write_pending(incident)
        return incident

    async def save(self, incident: Incident) -> Incident:
        """Write a changed incident if nobody else did since it was read (optimistic locking)."""
        assert incident.id is not None
        result = await self._uow.session.execute(_SAVE_INCIDENT, {
            "_id": incident.id, "_read_version": incident.version, "version": incident.version + 1,
            **incident_values(incident)})
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentUpdate(incident.number)
        incident.version += 1
        await self._uow.timeline.write_pending(incident)
        return incident

    async def open(self, limit: int = 50) -> list[Incident]:
        rows = await self._uow.session.scalars(
            select(IncidentRow).where(IncidentRow.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(IncidentRow.id.desc()).limit(limit))
        return [incident_from_row(r) for r in rows]

    async def open_without_thread(self, limit: int = 500) -> list[Incident]:
        """Open incidents whose card never reached Teams (no thread root yet), oldest first."""
        threaded = select(ThreadRow.incident_id).where(ThreadRow.incident_id == IncidentRow.id,
                                                       ThreadRow.purpose == "incident").exists()
        rows = await self._uow.session.scalars(
            select(IncidentRow).where(IncidentRow.status.in_([s.value for s in OPEN_STATUSES]), ~threaded)
            .order_by(IncidentRow.id).limit(limit))
        return [incident_from_row(r) for r in rows]

    async def many(self, incident_ids: Collection[int], *, lock: bool = False) -> dict[int, Incident]:
        """Several incidents by id. With `lock`, on PostgreSQL they stay locked until the commit, taken
        in id order so that two writers of the same incidents cannot deadlock."""
        query = select(IncidentRow).where(IncidentRow.id.in_(incident_ids)).order_by(IncidentRow.id)
        if lock:
            query = lock_rows(query, self._uow.session)
        return {row.id: incident_from_row(row) for row in await self._uow.session.scalars(query)}

    async def save_many(self, changes: Sequence[tuple[Incident, Incident]]) -> None:
        """save for several incidents, each given as read and as changed, with their pending events.
        Incidents changed alike (the same columns to the same values) share one UPDATE. If anyone
        changed one since it was read, raises ConcurrentUpdate: roll the transaction back."""
        alike: dict[str, tuple[dict[str, Any], list[Incident]]] = {}
        for read, changed in changes:
            before, after = incident_values(read), incident_values(changed)
            values = {column: value for column, value in after.items() if value != before[column]}
            alike.setdefault(repr(sorted(values.items())), (values, []))[1].append(changed)
        for values, incidents in alike.values():
            keys = [(incident.id, incident.version) for incident in incidents]
            saved = await self._uow.session.scalars(
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
        await self._uow.timeline.record_many(events)


class Timeline:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def write_pending(self, incident: Incident) -> None:
        """The events the domain appended to a just-saved incident, at its new version."""
        assert incident.id is not None
        if incident.pending_events:
            await self._uow.session.execute(_INSERT_EVENTS, [event_values(incident.id, incident.version, event)
                                                             for event in incident.pending_events])
        incident.pending_events.clear()

    async def record(self, incident_id: int, event: TimelineEvent, version: int) -> None:
        """A timeline entry that changes no incident field (e.g. a delivery failure)."""
        self._uow.session.add(event_row(incident_id, version, event))

    async def record_many(self, events: Sequence[tuple[int, int, TimelineEvent]]) -> None:
        """Several timeline entries, each (incident id, incident version, event), in one statement."""
        if events:
            await self._uow.session.execute(_INSERT_EVENTS, [event_values(incident_id, version, event)
                                                             for incident_id, version, event in events])

    async def of(self, incident_id: int) -> list[TimelineEvent]:
        rows = await self._uow.session.scalars(
            select(TimelineRow).where(TimelineRow.incident_id == incident_id).order_by(TimelineRow.id))
        return [event_from_row(r) for r in rows]

    async def since(self, incident_id: int, at: datetime) -> list[TimelineEvent]:
        """The entries recorded at or after `at`, oldest first."""
        rows = await self._uow.session.scalars(
            select(TimelineRow).where(TimelineRow.incident_id == incident_id, TimelineRow.at >= at)
            .order_by(TimelineRow.id))
        return [event_from_row(r) for r in rows]

    async def latest(self, incident_id: int, kind: str) -> TimelineEvent | None:
        """The newest entry of one kind (e.g. the last status update, for the card)."""
        row = (await self._uow.session.execute(_LATEST_OF_KIND, {"incident_id": incident_id, "kind": kind})).first()
        return event_from_row(row) if row is not None else None  # type: ignore[arg-type]

    async def any_after_version(self, incident_id: int, version: int, kinds: Collection[str]) -> bool:
        """Whether an entry of one of these kinds was written after `version`: one indexed
        existence query, however long the incident's history."""
        if not kinds:
            return False
        return bool(await self._uow.session.scalar(select(exists().where(
            TimelineRow.incident_id == incident_id, TimelineRow.incident_version > version,
            TimelineRow.kind.in_(kinds)))))

    async def latest_after_version(self, incident_id: int, version: int, *, leave_out: Collection[str],
                                   limit: int, count_up_to: int) -> tuple[list[TimelineEvent], int]:
        """The latest `limit` entries written after `version` (oldest first) leaving out the kinds
        in `leave_out`, and how many such entries there are, counted from the index up to
        `count_up_to`: what a stale card missed, read in the same time on day 300 as on day 1."""
        rows = (await self._uow.session.execute(_LATEST_AFTER_VERSION, {
            "incident_id": incident_id, "version": version, "leave_out": list(leave_out), "limit": limit,
            "count_up_to": count_up_to})).all()
        return [event_from_row(row) for row in reversed(rows)], rows[0].total if rows else 0  # type: ignore[arg-type]

    async def changes_since_last_update(self, incident_ids: Collection[int], *, leave_out: Collection[str],
                                        limit: int, audience: str) -> dict[int, list[TimelineEvent]]:
        """For each incident, its latest `limit` timeline entries since its last status update to
        `audience` (another audience's update does not count), oldest first, leaving out the kinds in
        `leave_out`: what a draft update summarises, read without the rest of the timeline. An
        update recorded without an audience (older rows) was to the responders, as
        services.comms.plan reads it."""
        update_audience = func.coalesce(TimelineRow.after["audience"].as_string(), RESPONDERS)
        last_update = (select(func.max(TimelineRow.id))
                       .where(TimelineRow.incident_id == IncidentRow.id, TimelineRow.kind == "status_update",
                              update_audience == audience)
                       .scalar_subquery())
        since = (select(IncidentRow.id, func.coalesce(last_update, 0).label("after"))
                 .where(IncidentRow.id.in_(incident_ids)).subquery())
        recent = (select(TimelineRow.id, func.row_number().over(partition_by=TimelineRow.incident_id,
                                                                  order_by=TimelineRow.id.desc()).label("rank"))
                  .join(since, and_(TimelineRow.incident_id == since.c.id, TimelineRow.id > since.c.after))
                  .where(TimelineRow.kind.not_in(leave_out)).subquery())
        rows = await self._uow.session.scalars(select(TimelineRow).join(recent, TimelineRow.id == recent.c.id)
                                               .where(recent.c.rank <= limit).order_by(TimelineRow.id))
        found: dict[int, list[TimelineEvent]] = defaultdict(list)
        for row in rows:
            found[row.incident_id].append(event_from_row(row))
        return found

    async def sequenced(self, kind: str, incident_ids: Collection[int],
                        sequences: Collection[int]) -> list[tuple[int, dict[str, Any]]]:
        """Timeline entries of one kind whose details carry one of these sequence numbers:
        (incident id, details) each."""
        rows = await self._uow.session.execute(
            select(TimelineRow.incident_id, TimelineRow.after)
            .where(TimelineRow.incident_id.in_(incident_ids), TimelineRow.kind == kind,
                   TimelineRow.after["sequence"].as_integer().in_(sequences)))
        return [(incident_id, after or {}) for incident_id, after in rows]
