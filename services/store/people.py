"""People Teams named, and the invokes already applied, inside a unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import delete, select

from services.incidents import Person
from services.store.dialect import insert_if_new
from services.store.tables import PersonRow, ProcessedActivityRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

# Per database (engine): people's names and user ids as this process last committed them.
_KNOWN_PEOPLE: WeakKeyDictionary[Any, dict[str, tuple[str, str | None]]] = WeakKeyDictionary()


class People:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow
        self._stored: dict[str, tuple[str, str | None]] = {}

    async def remember(self, people: list[Person], now: datetime) -> None:
        """Keep the names Teams shows for people. Most actions come from someone already known by
        the same name: this process remembers what it stored, so they cost no read (an action holds
        SQLite's writer turn while it runs)."""
        known = self._known()
        session = self._uow.session
        for person in people:
            if not person.aad_object_id or not person.name:
                continue
            stored = known.get(person.aad_object_id)
            if stored and stored[0] == person.name and (not person.user_id or stored[1] == person.user_id):
                continue
            row = await session.get(PersonRow, person.aad_object_id)
            if row is None:
                row = PersonRow(aad_object_id=person.aad_object_id, name=person.name, user_id=person.user_id,
                                email="", updated_at=now)
                session.add(row)
            elif row.name != person.name or (person.user_id and row.user_id != person.user_id):
                row.name, row.user_id, row.updated_at = person.name, person.user_id or row.user_id, now
            if not self._stored:
                self._uow.after_commit(self._committed)
            self._stored[person.aad_object_id] = (row.name, row.user_id)

    def _committed(self) -> None:
        known = self._known()
        if len(known) > 10_000:
            known.clear()
        known.update(self._stored)
        self._stored.clear()

    def _known(self) -> dict[str, tuple[str, str | None]]:
        return _KNOWN_PEOPLE.setdefault(self._uow.session.get_bind(), {})

    async def named(self, aad_object_ids: list[str]) -> dict[str, Person]:
        """The people of these ids Beacon knows a name for."""
        if not aad_object_ids:
            return {}
        rows = await self._uow.session.scalars(select(PersonRow).where(PersonRow.aad_object_id.in_(aad_object_ids)))
        return {r.aad_object_id: Person(r.aad_object_id, r.name, r.user_id) for r in rows}


class Activities:
    """Invokes (card clicks) already applied, so a replay is answered and never applied twice."""

    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def mark_processed(self, activity_id: str, incident_id: int | None, now: datetime) -> bool:
        """Remember an invoke; False when it was seen before (a replay). One INSERT … ON CONFLICT DO
        NOTHING: the write lock is held for fewer round trips than a look-up and an insert."""
        session = self._uow.session
        result = await session.execute(insert_if_new(session, ProcessedActivityRow), dict(
            activity_id=activity_id, incident_id=incident_id, processed_at=now))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def was_processed(self, activity_id: str) -> bool:
        return await self._uow.session.get(ProcessedActivityRow, activity_id) is not None

    async def incident_of(self, activity_id: str) -> int | None:
        """The incident a mark names, if any."""
        row = await self._uow.session.get(ProcessedActivityRow, activity_id)
        return row.incident_id if row is not None else None

    async def point(self, activity_id: str, incident_id: int) -> None:
        """Name the incident of a mark made before the incident existed."""
        row = await self._uow.session.get(ProcessedActivityRow, activity_id)
        if row is not None:
            row.incident_id = incident_id

    async def keyed(self, prefix: str) -> list[tuple[str, datetime]]:
        """(key, when) of the marks whose key starts with `prefix`, oldest first: a family of marks
        one use case keeps under its own prefix (e.g. the attempts of a paging call)."""
        rows = await self._uow.session.execute(
            select(ProcessedActivityRow.activity_id, ProcessedActivityRow.processed_at)
            .where(ProcessedActivityRow.activity_id.startswith(prefix, autoescape=True))
            .order_by(ProcessedActivityRow.processed_at))
        return [(key, at) for key, at in rows]

    async def forget(self, activity_id: str = "", *, prefix: str = "") -> None:
        """Drop one mark, or every mark under `prefix`."""
        key = ProcessedActivityRow.activity_id
        await self._uow.session.execute(delete(ProcessedActivityRow).where(
            key.startswith(prefix, autoescape=True) if prefix else key == activity_id))
