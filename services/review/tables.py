"""Tables of the review: the report answers, follow-up actions, the review meeting and the
durable timers that remind report and action owners."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.store.tables import Base, UtcDateTime


class ReportRow(Base):
    """The post-incident report of one incident: requested on resolve, completed by its owner."""

    __tablename__ = "review_reports"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="full")  # full | drill
    owner_name: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    owner_role: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    owner_email: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    owner_aad: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    reminders: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    root_cause: Mapped[str] = mapped_column(Text, nullable=False, default="")
    lessons: Mapped[str] = mapped_column(Text, nullable=False, default="")
    impact_narrative: Mapped[str] = mapped_column(Text, nullable=False, default="")
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    completed_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    review_start: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    review_held_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ActionItemRow(Base):
    """A corrective or follow-up action: an owner, a due date and a status."""

    __tablename__ = "review_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    owner_aad: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    owner_name: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open")  # open | done
    overdue: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    completed_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ReviewTimerRow(Base):
    """A durable reminder: the report owner's (repeating) or an action's due and overdue ones."""

    __tablename__ = "review_timers"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)  # report:7, action:3:due, action:3:overdue
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # report | action_due | action_overdue
    incident_id: Mapped[int] = mapped_column(Integer, nullable=False)
    action_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_review_timers_due", "due_at"),)


class ClientSummaryRow(Base):
    """What the client's contacts read after an incident, instead of the internal report: drafted
    from the report when it is completed, edited and approved by the report owner, sent once."""

    __tablename__ = "review_client_summaries"
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    client: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    happened: Mapped[str] = mapped_column(Text, nullable=False, default="")
    impact_window: Mapped[str] = mapped_column(Text, nullable=False, default="")
    done: Mapped[str] = mapped_column(Text, nullable=False, default="")
    prevention: Mapped[str] = mapped_column(Text, nullable=False, default="")
    recipients: Mapped[list[list[str]]] = mapped_column(JSON, nullable=False)  # [[email, name], …]
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)  # +1 on each edit
    drafted_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    edited_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    approved_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
