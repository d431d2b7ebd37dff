"""The dedicated-channel tables (migration 0028_dedicated_channels): the channel Beacon made for an
incident, and what Beacon knows of each team's Graph id and channel count."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.store.tables import Base, UtcDateTime


class IncidentChannelRow(Base):
    """The incident is the primary key: one channel per incident, however often creation is retried."""

    __tablename__ = "incident_channels"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(300), nullable=False)  # Bot Framework's 19:… team id
    group_id: Mapped[str] = mapped_column(String(100), nullable=False)  # the team's Graph (Entra group) id
    channel_id: Mapped[str] = mapped_column(String(300), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    web_url: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TeamGroupRow(Base):
    """A team's Graph id, as Teams names it in events (channelData.team.aadGroupId), and the number
    of channels Graph listed in it when Beacon last counted."""

    __tablename__ = "team_groups"
    team_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(100), nullable=False)
    channels_in_use: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
