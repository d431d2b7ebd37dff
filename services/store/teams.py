"""What Beacon knows of the teams it is in, inside a unit of work: which team holds a channel
(uow.team_channels), kept after Beacon leaves a team so the doctor can still name it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from services.store.dialect import insert_if_new
from services.store.tables import TeamChannelRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


class TeamChannels:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def note(self, channel_id: str, team_id: str, now: datetime, *, name: str = "",
                   team_name: str = "") -> None:
        """Remember that `channel_id` is a channel of `team_id` (its names, when Teams gives them)."""
        if not channel_id or not team_id:
            return
        session = self._uow.session
        result = await session.execute(insert_if_new(session, TeamChannelRow), dict(
            channel_id=channel_id, team_id=team_id, name=name[:300], team_name=team_name[:300], seen_at=now))
        if result.rowcount:  # type: ignore[attr-defined]
            return
        values: dict[str, object] = {"team_id": team_id, "seen_at": now}
        if name:
            values["name"] = name[:300]
        if team_name:
            values["team_name"] = team_name[:300]
        await session.execute(update(TeamChannelRow).where(TeamChannelRow.channel_id == channel_id).values(values))

    async def of(self, channel_id: str) -> TeamChannelRow | None:
        return await self._uow.session.get(TeamChannelRow, channel_id)

    async def drop(self, channel_id: str) -> None:
        await self._uow.session.execute(delete(TeamChannelRow).where(TeamChannelRow.channel_id == channel_id))

    async def of_team(self, team_id: str) -> list[str]:
        return list(await self._uow.session.scalars(select(TeamChannelRow.channel_id)
                                                    .where(TeamChannelRow.team_id == team_id)))

    async def any(self) -> bool:
        """Whether Beacon ever knew a team's channel (it was installed somewhere once)."""
        return await self._uow.session.scalar(select(TeamChannelRow.channel_id).limit(1)) is not None

    async def rename_team(self, team_id: str, team_name: str) -> None:
        if team_name:
            await self._uow.session.execute(update(TeamChannelRow).where(TeamChannelRow.team_id == team_id)
                                            .values(team_name=team_name[:300]))
