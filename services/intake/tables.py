"""Intake tables (migration 0004_intake): alert receipts, the alerts linked to each incident,
Freshdesk tickets linked to incidents, and reported issues awaiting triage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.store.tables import Base, UtcDateTime


class AlertReceiptRow(Base):
    """Every accepted monitoring webhook post, verbatim, written before the 2xx answer: the proof of
    what arrived, and the appendix of the post-incident report."""

    __tablename__ = "alert_receipts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    alert_count: Mapped[int] = mapped_column(Integer, nullable=False)
    outcome: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)

    __table_args__ = (Index("ix_alert_receipts_received", "received_at"),)


class AlertLinkRow(Base):
    """One alert (source + its key) on one incident, with how often it fired and whether it has
    resolved. The same alert on a later incident is a new row."""

    __tablename__ = "alert_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    alert_key: Mapped[str] = mapped_column(String(500), nullable=False)
    service: Mapped[str] = mapped_column(String(200), nullable=False)
    rule: Mapped[str] = mapped_column(String(300), nullable=False)
    severity: Mapped[str] = mapped_column(String(30), nullable=False, default="")
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    link: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # firing | resolved
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=1)  # firings received
    declared: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # it opened the incident
    first_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("source", "alert_key", "incident_id", name="uq_alert_links_alert_incident"),
        Index("ix_alert_links_key", "source", "alert_key"),
        Index("ix_alert_links_service", "service", "last_at"),
        Index("ix_alert_links_incident", "incident_id"),
    )


class TicketLinkRow(Base):
    """A Freshdesk ticket that follows an incident: the one Beacon created for it, the reported
    issue it was declared from, or reports merged into it. `ticket_id` is empty while Beacon is
    still creating the ticket; a ticket belongs to at most one incident."""

    __tablename__ = "ticket_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    ticket_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    url: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    role: Mapped[str] = mapped_column(String(20), nullable=False)  # created | reported | merged | linked
    state: Mapped[str] = mapped_column(String(20), nullable=False)  # creating | linked | not_sent | failed
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_ticket_links_incident", "incident_id"),)


class ReportRow(Base):
    """A user's report from Freshdesk's automation webhook; the ticket id is the key, so the same
    ticket posted twice is one report."""

    __tablename__ = "reported_issues"
    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    priority: Mapped[str] = mapped_column(String(10), nullable=False, default="")
    requester_email: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    company: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    url: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    impact: Mapped[str] = mapped_column(String(10), nullable=False)
    urgency: Mapped[str] = mapped_column(String(10), nullable=False)
    client: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    service: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    reasons: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # new | declared | merged | dismissed
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True)
    decided_by: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    # Where its card was posted (the triage channel thread), so every decision updates it in place.
    conversation_id: Mapped[str] = mapped_column(String(400), nullable=False, default="")
    activity_id: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    service_url: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    tenant_id: Mapped[str] = mapped_column(String(100), nullable=False, default="")
