"""Read models for cards: the incident plus the names Beacon learned about its people, and what
each integration adds (registered once at start-up by the composition root)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cards.incident import IncidentView, ViewExtras
from services.incidents import Incident, IncidentNotFound
from services.store.uow import UnitOfWork

ExtrasProvider = Callable[[UnitOfWork, Incident], Awaitable[ViewExtras]]


async def incident_view(uow: UnitOfWork, incident_id: int, providers: list[ExtrasProvider], *,
                        notice: str = "", notice_lines: tuple[str, ...] = (),
                        is_error: bool = False) -> IncidentView:
    incident = await uow.incidents.get(incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id} does not exist")
    return await view_of(uow, incident, providers, notice=notice, notice_lines=notice_lines,
                         is_error=is_error)


async def view_of(uow: UnitOfWork, incident: Incident, providers: list[ExtrasProvider], *,
                  notice: str = "", notice_lines: tuple[str, ...] = (), is_error: bool = False) -> IncidentView:
    ids = [p.aad_object_id for p in (incident.commander, *incident.responders) if p and not p.name]
    people = await uow.people.named(ids)
    extras = ViewExtras()
    for provider in providers:
        extras = extras + await provider(uow, incident)
    return IncidentView(incident, people, notice, notice_lines, is_error, extras)
