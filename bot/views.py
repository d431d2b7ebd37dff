"""Read models for cards: the incident plus the names Beacon learned about its people."""

from __future__ import annotations

from cards.incident import IncidentView
from services.incidents import Incident, IncidentNotFound
from services.store.uow import UnitOfWork


async def incident_view(uow: UnitOfWork, incident_id: int, *, notice: str = "",
                        notice_lines: tuple[str, ...] = (), is_error: bool = False) -> IncidentView:
    incident = await uow.get_incident(incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id} does not exist")
    return await view_of(uow, incident, notice=notice, notice_lines=notice_lines, is_error=is_error)


async def view_of(uow: UnitOfWork, incident: Incident, *, notice: str = "",
                  notice_lines: tuple[str, ...] = (), is_error: bool = False) -> IncidentView:
    ids = [p.aad_object_id for p in (incident.commander, *incident.responders) if p and not p.name]
    people = await uow.people(ids)
    return IncidentView(incident, people, notice, notice_lines, is_error)
