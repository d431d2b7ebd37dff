"""The bridge tables (migration 0003_bridge): one bridge per incident, and the calls that rang."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.store.tables import Base, UtcDateTime


class BridgeRow(Base):
    """The incident's bridge. The primary key is the incident, so two clicks at the same moment
    can never create two bridges: the second insert fails and sees the first."""

    __tablename__ = "bridges"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    requested_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    invitees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    invited: Mapped[list[list[str]]] = mapped_column(JSON, nullable=False, default=list)
    meeting_id: Mapped[str] = mapped_column(Text, nullable=False, default="")
    join_url: Mapped[str] = mapped_column(Text, nullable=False, default="")
    dial_in: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    conference_id: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    passcode: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class BridgeCallRow(Base):
    """A group call Beacon placed to ring responders; Graph's notifications update it."""

    __tablename__ = "bridge_calls"
    call_key: Mapped[str] = mapped_column(String(100), primary_key=True)  # model.call_key(call_id)
    call_id: Mapped[str] = mapped_column(String(100), nullable=False)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    state: Mapped[str] = mapped_column(String(30), nullable=False)
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    participants: Mapped[list[list[str]]] = mapped_column(JSON, nullable=False, default=list)
    requested_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_bridge_calls_incident", "incident_id", "started_at"),)


class HeldCallNotificationRow(Base):
    """A call notification about a call Beacon has not stored yet (migration 0018_tenant): Graph may
    post it before the answer to the POST that placed the call is processed (facts §12.8). It is
    applied when the call is stored, or dropped unclaimed after a while."""

    __tablename__ = "held_call_notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_key: Mapped[str] = mapped_column(String(100), nullable=False)
    notification: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_held_call_notifications_call", "call_key", "id"),
                      Index("ix_held_call_notifications_received", "received_at"))
