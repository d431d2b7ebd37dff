"""Between domain objects and rows."""

from __future__ import annotations

from typing import Any

from services.incidents import Incident, Level, Person, Status, TimelineEvent
from services.store.tables import IncidentRow, TimelineRow


def _person(data: dict[str, Any] | None) -> Person | None:
    return Person.from_dict(data) if data else None


def incident_from_row(row: IncidentRow) -> Incident:
    declared_by = Person.from_dict(row.declared_by)
    return Incident(
        id=row.id, title=row.title, description=row.description, impact=Level(row.impact),
        urgency=Level(row.urgency), priority=row.priority, status=Status(row.status),
        service=row.service, client=row.client, declared_by=declared_by, declared_at=row.declared_at,
        source=row.source, commander=_person(row.commander),
        responders=tuple(Person.from_dict(p) for p in row.responders or []),
        acknowledged_at=row.acknowledged_at, acknowledged_by=_person(row.acknowledged_by),
        acknowledged_via=row.acknowledged_via or "",
        resolved_at=row.resolved_at, resolution_summary=row.resolution_summary,
        last_update_at=row.last_update_at, next_update_due=row.next_update_due, version=row.version,
        drill=row.drill, impact_started_at=row.impact_started_at,
    )


def incident_values(incident: Incident) -> dict[str, Any]:
    """Column values for an insert or update (everything but id and version)."""
    return {
        "title": incident.title, "description": incident.description,
        "impact": incident.impact.value, "urgency": incident.urgency.value,
        "priority": incident.priority, "status": incident.status.value, "service": incident.service,
        "client": incident.client, "source": incident.source,
        "declared_by": incident.declared_by.to_dict(), "declared_at": incident.declared_at,
        "commander": incident.commander.to_dict() if incident.commander else None,
        "responders": [p.to_dict() for p in incident.responders],
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by.to_dict() if incident.acknowledged_by else None,
        "acknowledged_via": incident.acknowledged_via,
        "resolved_at": incident.resolved_at, "resolution_summary": incident.resolution_summary,
        "last_update_at": incident.last_update_at, "next_update_due": incident.next_update_due,
        "drill": incident.drill, "impact_started_at": incident.impact_started_at,
    }


def event_from_row(row: TimelineRow) -> TimelineEvent:
    return TimelineEvent(kind=row.kind, at=row.at, actor=_person(row.actor), summary=row.summary,
                         before=row.before, after=row.after)


def event_values(incident_id: int, version: int, event: TimelineEvent) -> dict[str, Any]:
    """Column values of a timeline row."""
    return dict(incident_id=incident_id, at=event.at, kind=event.kind,
                actor=event.actor.to_dict() if event.actor else None, summary=event.summary,
                before=event.before, after=event.after, incident_version=version)


def event_row(incident_id: int, version: int, event: TimelineEvent) -> TimelineRow:
    return TimelineRow(**event_values(incident_id, version, event))
