"""Customers' reports linked to the incident they are about.

During an outage many customers report the same problem. A reported ticket that matches an open
incident (the same client, by company or email domain, or the same service by its keywords,
received within the incident's lifetime) is offered "Link to INC-n" first on its card; with
`report_triage.auto_link` Beacon links it on receipt, says so on the card and offers Unlink.
A linked ticket follows the incident like a merged one, and its customer hears the incident's
public updates on it (services.intake.replies).

Linking and unlinking are one transaction each, guarded like every triage decision (the report
moves out of "new", or back into it, with a guarded UPDATE), so a double click decides once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.deps import Deps
from services.incidents import DomainError, Incident, IncidentNotFound, Person
from services.intake.effects import TicketNote
from services.intake.tables import ReportRow, TicketLinkRow
from services.intake.within import record, refresh_card, thread_note
from services.policy import BEACON, SYSTEM_ACTOR
from services.store.uow import UnitOfWork

CUSTOMER_ROLES = ("reported", "merged", "linked")  # a ticket a customer opened, not Beacon's own
LINKABLE = ("merged", "linked")  # decisions Unlink takes back (a declared report is the incident's origin)


@dataclass(frozen=True)
class Match:
    incident_id: int
    number: str
    why: str  # "same client Contoso", "service payments-api"


def match_incident(row: ReportRow, incidents: Sequence[Incident]) -> Match | None:
    """The open incident a report is most likely about: the same client and service first, then
    the same client, then the same service; the newest among equals. Only incidents whose impact
    had started when the report arrived, and never drills."""
    best: tuple[int, int, Match] | None = None
    for incident in incidents:
        if incident.id is None or incident.drill or not incident.is_open:
            continue
        started = incident.impact_started_at or incident.declared_at
        if row.received_at < started:
            continue
        same_client = bool(row.client) and row.client.casefold() == (incident.client or "").casefold()
        same_service = bool(row.service) and row.service.casefold() == (incident.service or "").casefold()
        if not (same_client or same_service):
            continue
        why = " and ".join(part for part, hit in ((f"same client {incident.client}", same_client),
                                                   (f"service {incident.service}", same_service)) if hit)
        rank = (2 * same_client + same_service, incident.id)
        if best is None or rank > best[:2]:
            best = (*rank, Match(incident.id, incident.number, why))
    return best[2] if best else None


async def link_within(uow: UnitOfWork, row: ReportRow, incident: Incident, actor: Person, now: datetime, *,
                      how: str, why: str = "") -> None:
    """Attach a claimed report's ticket to `incident` (status `how`: merged or linked): the ticket
    link, the timeline, the incident card and thread, and a note on the ticket."""
    assert incident.id is not None
    await uow.tickets.add(TicketLinkRow(incident_id=incident.id, ticket_id=row.ticket_id, url=row.url, role=how,
                                        state="linked", error="", created_at=now))
    automatic = actor.aad_object_id == SYSTEM_ACTOR
    verb = "merged" if how == "merged" else ("automatically linked" if automatic else "linked")
    summary = f"{actor.name} {verb} Freshdesk ticket #{row.ticket_id}: {row.subject}"
    reason = f"; {why}" if why else ""
    await record(uow, incident, f"ticket_{how}", summary + f" (reported by {row.requester_email or 'unknown'}{reason})",
                 now, actor=actor, after={"ticket_id": row.ticket_id, "url": row.url, "requester": row.requester_email})
    stamp = f"{row.ticket_id}:{now.timestamp():.6f}"
    await refresh_card(uow, incident.id, f"{how}{stamp}", now)
    await thread_note(uow, incident.id, summary, f"{how}{stamp}", now)
    await uow.outbox.add(TicketNote(
        incident.id, row.ticket_id, f"<p>{'Merged into' if how == 'merged' else 'Linked to'} Beacon incident "
                                    f"<b>{incident.number}</b> ({incident.priority}): {html.escape(incident.title)}. "
                                    f"Its updates follow on this ticket.</p>",
        True, f"Freshdesk note on #{row.ticket_id}", f"{how}:note:{stamp}"), now=now)  # for agents only


async def open_incident(uow: UnitOfWork, incident_id: int) -> Incident:
    incident = await uow.incidents.get(incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id} does not exist")
    if not incident.is_open:
        raise DomainError(f"{incident.number} is {incident.status}: link reports to an open incident")
    return incident


async def auto_link(uow: UnitOfWork, row: ReportRow, deps: Deps, now: datetime) -> Match | None:
    """With `report_triage.auto_link`, link a just-received report to the incident it matches, in
    the transaction that stores it."""
    if not deps.config.report_triage.auto_link:
        return None
    found = match_incident(row, await uow.incidents.open())
    if found is None:
        return None
    incident = await open_incident(uow, found.incident_id)
    claimed = await uow.reported_issues.claim(row.ticket_id, "linked", BEACON, now, incident_id=incident.id,
                                              reason=found.why)
    if claimed is None:
        return None
    await link_within(uow, claimed, incident, BEACON, now, how="linked", why=found.why)
    return found


async def unlink_report(ticket_id: int, actor: Person, deps: Deps) -> ReportRow | None:
    """Take a link (or merge) back: the report is new again, the ticket follows no incident.
    None when it was not linked (already unlinked, or decided otherwise)."""
    from services.intake.reports import queue_report_card  # reports imports this module

    now = deps.clock.now()
    async with deps.uow() as uow:
        before = await uow.reported_issues.get(ticket_id, fresh=True)
        if before is None:
            raise DomainError(f"Freshdesk ticket #{ticket_id} is not a reported issue Beacon knows")
        incident_id = before.incident_id
        row = await uow.reported_issues.reopen(ticket_id, LINKABLE)
        if row is None or incident_id is None:
            return None
        await uow.tickets.remove(ticket_id)
        incident = await uow.incidents.get(incident_id)
        if incident is not None:
            summary = f"{actor.name} unlinked Freshdesk ticket #{ticket_id}: {row.subject}"
            await record(uow, incident, "ticket_unlinked", summary, now, actor=actor, after={"ticket_id": ticket_id})
            stamp = f"{ticket_id}:{now.timestamp():.6f}"
            await refresh_card(uow, incident_id, f"unlinked{stamp}", now)
            await thread_note(uow, incident_id, summary, f"unlinked{stamp}", now)
            await uow.outbox.add(TicketNote(
                None, ticket_id, f"<p>Unlinked from Beacon incident <b>{incident.number}</b> by "
                                 f"{html.escape(actor.name)}: its updates no longer follow on this ticket.</p>",
                True, f"Freshdesk note on #{ticket_id}", f"unlinked:note:{stamp}"), now=now)
        await queue_report_card(uow, ticket_id, f"unlinked:{now.timestamp():.6f}", now)
        await uow.commit()
        return row
