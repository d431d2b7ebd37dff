"""What Beacon knows of the teams it is in, inside a unit of work: which team holds a channel
(uow.team_channels), kept after Beacon leaves a team so the doctor can still name it, and who is
in each team (uow.roster), so a click is decided without asking Teams."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Index, Row, String, bindparam, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from services.store.dialect import insert_if_new
from services.store.tables import Base, UtcDateTime

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


class TeamChannelRow(Base):
    """A channel Beacon knows the team of (from installs and Teams' channel events), kept when
    Beacon is removed from the team, so the doctor can say which team a configured channel is in."""

    __tablename__ = "team_channels"
    channel_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(300), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False, default="", server_default="")
    team_name: Mapped[str] = mapped_column(String(300), nullable=False, default="", server_default="")
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_team_channels_team", "team_id"),)


class TeamMemberRow(Base):
    """One person of a team's roster as Teams describes them (userRole: user, guest, anonymous):
    read when Beacon is installed, kept by membersAdded/membersRemoved, so a click needs no
    look-up (migration 0020_roster)."""

    __tablename__ = "team_members"
    team_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    aad_object_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(300), nullable=False, default="", server_default="")
    name: Mapped[str] = mapped_column(String(300), nullable=False, default="", server_default="")
    email: Mapped[str] = mapped_column(String(300), nullable=False, default="", server_default="")
    user_role: Mapped[str] = mapped_column(String(30), nullable=False, default="", server_default="")
    tenant_id: Mapped[str] = mapped_column(String(100), nullable=False, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_team_members_person", "aad_object_id"), Index("ix_team_members_user", "user_id"))


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


# Where someone is in the rosters: every click's gate reads it (built once, bound per call).
_MEMBERS = TeamMemberRow.__table__
_MEMBER_BY_AAD = select(_MEMBERS).where(_MEMBERS.c.aad_object_id == bindparam("aad_object_id"))


class Roster:
    """Each team's members as Teams described them (uow.roster), keyed by team (or, for a chat
    outside any team, by the chat's conversation id)."""

    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def keep(self, team_id: str, members: Sequence[Mapping[str, str]], now: datetime) -> None:
        """Add or refresh these members (aad_object_id, user_id, name, email, user_role, tenant_id)."""
        session = self._uow.session
        for member in members:
            if not member.get("aad_object_id"):
                continue
            values = {key: str(member.get(key) or "")[:limit] for key, limit in _FIELDS.items()}
            result = await session.execute(insert_if_new(session, TeamMemberRow),
                                           dict(team_id=team_id, updated_at=now, **values))
            if not result.rowcount:  # type: ignore[attr-defined]
                await session.execute(update(TeamMemberRow).where(
                    TeamMemberRow.team_id == team_id, TeamMemberRow.aad_object_id == values["aad_object_id"])
                    .values(updated_at=now, **{k: v for k, v in values.items() if v}))

    async def drop(self, team_id: str, ids: Collection[str]) -> None:
        """Members who left, named by aadObjectId or by Teams user id (29:…), as Teams names them."""
        ids = [i for i in ids if i]
        if ids:
            await self._uow.session.execute(delete(TeamMemberRow).where(
                TeamMemberRow.team_id == team_id,
                TeamMemberRow.aad_object_id.in_(ids) | TeamMemberRow.user_id.in_(ids)))

    async def drop_older(self, team_id: str, than: datetime) -> None:
        """After a full read of the roster: whoever it did not name has left."""
        await self._uow.session.execute(delete(TeamMemberRow).where(TeamMemberRow.team_id == team_id,
                                                                    TeamMemberRow.updated_at < than))

    async def forget_team(self, team_id: str) -> None:
        await self._uow.session.execute(delete(TeamMemberRow).where(TeamMemberRow.team_id == team_id))

    async def of_person(self, aad_object_id: str) -> list[Row[Any]]:
        """Where this person is in a roster Beacon keeps (one indexed read: the click path), as
        read-only rows with the table's columns."""
        if not aad_object_id:
            return []
        return list(await self._uow.session.execute(_MEMBER_BY_AAD, {"aad_object_id": aad_object_id}))

    async def of_user(self, user_id: str) -> TeamMemberRow | None:
        """Someone by their Teams user id (29:…), as a roster names them."""
        if not user_id:
            return None
        return await self._uow.session.scalar(select(TeamMemberRow).where(TeamMemberRow.user_id == user_id).limit(1))

    async def user_id_of(self, aad_object_id: str) -> str:
        """The person's Teams user id (29:…) as a roster names them, or ''."""
        if not aad_object_id:
            return ""
        return str(await self._uow.session.scalar(
            select(TeamMemberRow.user_id).where(TeamMemberRow.aad_object_id == aad_object_id,
                                                TeamMemberRow.user_id != "").limit(1)) or "")

    async def count(self, team_id: str) -> int:
        return int(await self._uow.session.scalar(
            select(func.count()).where(TeamMemberRow.team_id == team_id)) or 0)


_FIELDS = {"aad_object_id": 100, "user_id": 300, "name": 300, "email": 300, "user_role": 30, "tenant_id": 100}
