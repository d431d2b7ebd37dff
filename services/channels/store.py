"""The dedicated channels Beacon made, and the teams' Graph ids and channel counts (`uow.channels`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from services.channels.tables import IncidentChannelRow, TeamGroupRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


class IncidentChannels:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def of(self, incident_id: int) -> IncidentChannelRow | None:
        return await self._uow.session.get(IncidentChannelRow, incident_id)

    async def keep(self, row: IncidentChannelRow) -> IncidentChannelRow:
        """Note the channel made for an incident; the first one noted stays (a retry finds it)."""
        known = await self.of(row.incident_id)
        if known is not None:
            return known
        self._uow.session.add(row)
        await self._uow.session.flush()
        return row

    async def archived(self, incident_id: int, now: datetime) -> None:
        row = await self.of(incident_id)
        if row is not None and row.archived_at is None:
            row.archived_at = now

    async def made(self) -> list[tuple[str, int, int]]:
        """Per team: (team id, channels Beacon made, of which archived)."""
        archived = func.count(IncidentChannelRow.archived_at)
        rows = await self._uow.session.execute(
            select(IncidentChannelRow.team_id, func.count(), archived).group_by(IncidentChannelRow.team_id))
        return [(team, int(total), int(done)) for team, total, done in rows]

    async def note_group(self, team_id: str, group_id: str) -> None:
        """The team's Graph id, as Teams named it in an event (kept current)."""
        if not team_id or not group_id:
            return
        row = await self._uow.session.get(TeamGroupRow, team_id)
        if row is None:
            self._uow.session.add(TeamGroupRow(team_id=team_id, group_id=group_id))
        elif row.group_id != group_id:
            row.group_id = group_id

    async def group_of(self, team_id: str) -> TeamGroupRow | None:
        return await self._uow.session.get(TeamGroupRow, team_id)

    async def counted(self, team_id: str, in_use: int, now: datetime) -> None:
        row = await self._uow.session.get(TeamGroupRow, team_id)
        if row is not None:
            row.channels_in_use, row.counted_at = in_use, now

    async def teams(self) -> list[TeamGroupRow]:
        return list(await self._uow.session.scalars(select(TeamGroupRow).order_by(TeamGroupRow.team_id)))
