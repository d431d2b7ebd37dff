"""The post-incident report as data, built from the timeline plus the owner's answers.

Pure: the caller loads the rows; nothing here reads the clock or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.incidents import Incident, Status, TimelineEvent

SECTIONS = ("Executive summary", "Incident overview", "Impact analysis", "Root cause analysis", "Response timeline",
            "Corrective actions", "Lessons learned", "Appendices")
APPENDICES = ("A. Alerts received", "B. Messages and deliveries", "C. Bridge and call records",
              "D. Linked tickets")
# How each delivery went, written once on its outbox row: the report lists it in the deliveries
# appendix, so the timeline itself keeps to what people and the incident did.
DELIVERY_KINDS = frozenset({"delivery_sent", "delivery_failed", "delivery_skipped"})
MITIGATED = ("verifying", "monitoring", "resolved")  # the first of these ends the impact's worst
NOT_YET = "Not completed yet."


@dataclass(frozen=True)
class ActionLine:
    title: str
    owner: str
    due_at: datetime
    status: str
    completed_at: datetime | None = None


@dataclass(frozen=True)
class Communication:
    kind: str
    recipients: str
    queued_at: datetime
    done_at: datetime | None
    status: str
    description: str
    error: str = ""


@dataclass(frozen=True)
class Answers:
    root_cause: str = ""
    lessons: str = ""
    impact_narrative: str = ""
    owner: str = ""
    completed_at: datetime | None = None


@dataclass
class Report:
    incident: Incident
    timeline: list[TimelineEvent]
    answers: Answers
    actions: list[ActionLine]
    communications: list[Communication]
    generated_at: datetime
    status_times: list[tuple[str, timedelta]] = field(default_factory=list)
    priority_changes: list[TimelineEvent] = field(default_factory=list)
    forms: dict[str, str] = field(default_factory=dict)  # "html" | "md" | "pdf" → a link to that form

    @property
    def title(self) -> str:
        return f"Post-incident report: {self.incident.label} {self.incident.title}"

    @property
    def detected_at(self) -> datetime:
        return self.incident.declared_at

    @property
    def impact_started_at(self) -> datetime:
        """When people were first affected: as the declarer said, else the declaration."""
        return self.incident.impact_started_at or self.incident.declared_at

    @property
    def resolved_at(self) -> datetime | None:
        return self.incident.resolved_at

    @property
    def duration(self) -> timedelta | None:
        """How long the impact lasted, from when it started."""
        return self.resolved_at - self.impact_started_at if self.resolved_at else None

    @property
    def mitigated_at(self) -> datetime | None:
        """The first move to verifying, monitoring or resolved."""
        return next((e.at for e in self.timeline if e.kind in ("status_changed", "resolved")
                     and (e.after or {}).get("status") in MITIGATED), None)

    def since_impact(self, moment: datetime | None) -> timedelta | None:
        return moment - self.impact_started_at if moment else None

    @property
    def updates(self) -> dict[str, int]:
        """Status updates by punctuality: on_time, late, automatic (Beacon's, when none was written)."""
        counts = {"on_time": 0, "late": 0, "automatic": 0}
        for event in self.timeline:
            if event.kind == "status_update":
                after = event.after or {}
                counts["automatic" if after.get("automatic") else "late" if after.get("late") else "on_time"] += 1
        return counts

    def events_of(self, *prefixes: str) -> list[TimelineEvent]:
        return [e for e in self.timeline if e.kind.startswith(prefixes)]

    @property
    def response_events(self) -> list[TimelineEvent]:
        """The timeline without delivery records (those are in the deliveries appendix)."""
        return [e for e in self.timeline if e.kind not in DELIVERY_KINDS]


def status_periods(incident: Incident, timeline: list[TimelineEvent],
                   until: datetime) -> list[tuple[str, datetime, datetime]]:
    """(status, start, end) from the declaration until resolution (or `until`)."""
    changes: list[tuple[datetime, str]] = [(incident.declared_at, Status.TRIAGE.value)]
    for event in timeline:
        status = (event.after or {}).get("status")
        if event.kind in ("status_changed", "resolved", "reopened", "closed") and status:
            changes.append((event.at, str(status)))
    periods = []
    for (start, status), (end, _) in zip(changes, [*changes[1:], (until, "")], strict=True):
        if status in (Status.RESOLVED.value, Status.CLOSED.value):
            continue
        periods.append((status, start, max(start, end)))
    return periods


def time_per_status(periods: list[tuple[str, datetime, datetime]]) -> list[tuple[str, timedelta]]:
    totals: dict[str, timedelta] = {}
    for status, start, end in periods:
        totals[status] = totals.get(status, timedelta(0)) + (end - start)
    order = [s.value for s in Status]
    return sorted(totals.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)


def build_report(incident: Incident, timeline: list[TimelineEvent], answers: Answers,
                 actions: list[ActionLine], communications: list[Communication], *, now: datetime) -> Report:
    until = incident.resolved_at or now
    report = Report(incident, timeline, answers, actions, communications, now)
    report.status_times = time_per_status(status_periods(incident, timeline, until))
    report.priority_changes = [e for e in timeline if e.kind == "priority_changed"]
    return report


def recipients_of(kind: str, payload: dict[str, Any]) -> str:
    """Who an outbox effect went to, in words."""
    if kind == "email.send":
        return ", ".join(str(r[0]) for r in payload.get("to", []))
    if kind == "sms.send":
        return f"…{str(payload.get('to', ''))[-4:]}"
    if kind.startswith("teams.stakeholder"):
        return "stakeholder channel"
    if kind.startswith(("teams.", "review.thread")):
        return "incident thread"
    return str(payload.get("description", ""))[:80]


def stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"
