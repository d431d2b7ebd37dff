"""The status page's rows inside the caller's unit of work (`uow.status_pages`): each client's
link generation, and the client's incidents with the updates written for stakeholders."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from services.incidents import OPEN_STATUSES, Incident, TimelineEvent
from services.status_page.tables import StatusLinkRow
from services.store.dialect import insert_if_new
from services.store.mapping import event_from_row, incident_from_row
from services.store.tables import IncidentRow, TimelineRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

MOST_INCIDENTS = 50  # a page, not an archive


class StatusPages:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def generation(self, client: str) -> int | None:
        """The client's current link generation; None before any link was handed out."""
        row = await self._uow.session.get(StatusLinkRow, client)
        return row.generation if row is not None else None

    async def current(self, client: str, now: datetime, by: str) -> int:
        """The generation to sign a link with: the current one, or the first. Two transactions
        handing out the first link at once both get generation 1 (the insert is if-new)."""
        found = await self.generation(client)
        if found is not None:
            return found
        await self._uow.session.execute(insert_if_new(self._uow.session, StatusLinkRow), {
            "client": client, "generation": 1, "changed_at": now, "changed_by": by})
        row = await self._uow.session.get(StatusLinkRow, client, populate_existing=True)
        assert row is not None
        return row.generation

    async def revoke(self, client: str, now: datetime, by: str) -> int:
        """Make every link handed out so far stop working; returns the new generation."""
        await self.current(client, now, by)
        await self._uow.session.execute(
            update(StatusLinkRow).where(StatusLinkRow.client == client)
            .values(generation=StatusLinkRow.generation + 1, changed_at=now, changed_by=by)
            .execution_options(synchronize_session=False))
        row = await self._uow.session.get(StatusLinkRow, client, populate_existing=True)
        assert row is not None
        return row.generation

    async def incidents(self, client: str | None, since: datetime) -> list[tuple[Incident, list[TimelineEvent]]]:
        """The client's incidents (every client's, for None) that are open or ended since `since`
        (drills left out), newest first, each with its status updates, oldest first."""
        query = select(IncidentRow).where(
            IncidentRow.drill.is_(False),
            or_(IncidentRow.status.in_([s.value for s in OPEN_STATUSES]), IncidentRow.resolved_at >= since))
        if client is not None:
            query = query.where(IncidentRow.client == client)
        rows = list(await self._uow.session.scalars(
            query.order_by(IncidentRow.declared_at.desc()).limit(MOST_INCIDENTS)))
        updates: dict[int, list[TimelineEvent]] = defaultdict(list)
        if rows:
            for event in await self._uow.session.scalars(
                    select(TimelineRow).where(TimelineRow.incident_id.in_([r.id for r in rows]),
                                              TimelineRow.kind == "status_update").order_by(TimelineRow.id)):
                updates[event.incident_id].append(event_from_row(event))
        return [(incident_from_row(row), updates[row.id]) for row in rows]
