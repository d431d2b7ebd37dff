"""SQLAlchemy table definitions (the schema Alembic migrates)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores naive timestamps)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class IncidentRow(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    impact: Mapped[str] = mapped_column(String(10), nullable=False)
    urgency: Mapped[str] = mapped_column(String(10), nullable=False)
    priority: Mapped[str] = mapped_column(String(10), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    service: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    client: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    source: Mapped[str] = mapped_column(String(50), nullable=False, default="chat")
    declared_by: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    declared_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    commander: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    responders: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    acknowledged_via: Mapped[str] = mapped_column(String(20), nullable=False, default="", server_default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolution_summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    last_update_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    next_update_due: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    config_version: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    drill: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    impact_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # migration 0015

    # Alert grouping looks up open incidents by service (migration 0006); metrics read a window of
    # recent incidents (migration 0024).
    __table_args__ = (Index("ix_incidents_service_status", "service", "status"),
                      Index("ix_incidents_client", "client", "declared_at"),  # migration 0022_status_links
                      Index("ix_incidents_declared_at", "declared_at"))


class TimelineRow(Base):
    __tablename__ = "timeline_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    actor: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    incident_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_timeline_incident", "incident_id", "id"),
                      Index("ix_timeline_incident_kind", "incident_id", "kind", "id"),  # migration 0007
                      # What changed since a card's version, counted from the index alone (0024).
                      Index("ix_timeline_incident_version", "incident_id", "incident_version", "kind"))


class IncidentFactRow(Base):
    """What the response metrics read of one incident (migration 0029_incident_facts). The database
    keeps it in the transaction of each change, by triggers on `incidents` and `timeline_events`:
    the incident's columns as they are now (a re-assessed priority, a reopening, a new resolution),
    its first mitigating status, and its status updates counted by punctuality."""

    __tablename__ = "incident_facts"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    priority: Mapped[str] = mapped_column(String(10), nullable=False)
    declared_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    drill: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    mitigated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updates_on_time: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    updates_late: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    updates_automatic: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    __table_args__ = (Index("ix_incident_facts_declared_at", "declared_at"),)


class IncidentFactDayRow(Base):
    """The incident facts of one UTC day of declaration and one priority, summed (drills left out),
    one row per writer (`slot`: the PostgreSQL server process, which runs one transaction at a
    time, or 0 on SQLite), so that no two transactions write the same row: kept by triggers on
    `incident_facts` (migration 0029_incident_facts), which take an incident's old facts away and
    add its new ones whenever they change. A day's sums are those of all its slots (a slot's alone
    may be negative: an incident re-assessed by another writer than the one that declared it). On
    PostgreSQL the slots of server processes that are gone are merged hourly into slot 0, which no
    process has (services.review.metrics.compact_fact_days)."""

    __tablename__ = "incident_fact_days"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    incidents: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    acknowledged: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    acknowledged_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0, server_default="0")
    mitigated: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    mitigated_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0, server_default="0")
    resolved: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    resolved_seconds: Mapped[float] = mapped_column(Float, nullable=False, default=0, server_default="0")
    updates_on_time: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    updates_late: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    updates_automatic: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class InstallationRow(Base):
    """Where Beacon is installed: one row per conversation (team channel, personal or group chat)."""

    __tablename__ = "installations"
    conversation_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    team_id: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    channel_id: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    tenant_id: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    service_url: Mapped[str] = mapped_column(String(500), nullable=False)
    reference: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    greeted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    team_name: Mapped[str] = mapped_column(String(300), nullable=False, default="", server_default="")


class TeamsPacingRow(Base):
    """A send Beacon made to a Teams conversation (`sent`, at when), or a turn an outbox effect
    waits for (at when it was told to come back), ranked: services/store/pacing.py."""

    __tablename__ = "teams_pacing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(300), nullable=False)
    effect_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rank: Mapped[int] = mapped_column(Integer, nullable=False)
    sent: Mapped[bool] = mapped_column(Boolean, nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    __table_args__ = (Index("ix_teams_pacing_conversation", "conversation_id", "sent", "at"),)  # migration 0021


class TeamsProblemRow(Base):
    """A Teams conversation Beacon cannot post to for good (403 removed from the team, 404 gone,
    400 refused): what went wrong and the fix, told once by email and shown by the doctor until a
    post there succeeds again or Beacon is installed there again."""

    __tablename__ = "teams_problems"
    conversation_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    problem: Mapped[str] = mapped_column(Text, nullable=False)
    fix: Mapped[str] = mapped_column(Text, nullable=False)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    since: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")


class ThreadRow(Base):
    """A Teams thread Beacon keeps for an incident: its own (purpose "incident", whose root carries
    the incident card) and the one in the stakeholder channel (purpose "stakeholders")."""

    __tablename__ = "incident_threads"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(30), primary_key=True, default="incident")
    conversation_id: Mapped[str] = mapped_column(String(400), nullable=False)
    root_activity_id: Mapped[str] = mapped_column(String(200), nullable=False)
    service_url: Mapped[str] = mapped_column(String(500), nullable=False)
    tenant_id: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    channel_id: Mapped[str] = mapped_column(String(300), nullable=False, default="")


# Outbox rows still to go out; a partial index over them answers "is an earlier post of this
# thread still to go out" (services/outbox.py) from a few rows instead of the whole history.
UNFINISHED_STATUSES = ("pending", "sending")
UNFINISHED = f"status IN ({', '.join(repr(status) for status in UNFINISHED_STATUSES)})"


class OutboxRow(Base):
    """An effect on the outside, written with the change that causes it, delivered by a worker."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(60), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(300), nullable=False, unique=True)
    ordering_key: Mapped[str] = mapped_column(String(100), nullable=False)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        Index("ix_outbox_queue", "status", "id", "next_attempt_at"),
        Index("ix_outbox_unfinished", "ordering_key", "id", sqlite_where=text(UNFINISHED),
              postgresql_where=text(UNFINISHED)),
        Index("ix_outbox_ordering", "ordering_key", "id"),
    )


class ProcessedActivityRow(Base):
    """Invoke activity ids already applied, so a replayed click is never applied twice."""

    __tablename__ = "processed_activities"
    activity_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class PersonRow(Base):
    """Names and Teams ids of people seen, so picker choices (AAD ids only) can be @mentioned."""

    __tablename__ = "people"
    aad_object_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    user_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    email: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class TimerRow(Base):
    """A durable timer: the next status update of one kind due for one incident."""

    __tablename__ = "timers"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    phase: Mapped[str] = mapped_column(String(10), nullable=False, default="due")
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)
    sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
