"""Reported issues from Freshdesk: stored once per ticket, then triaged in Teams by declaring an
incident from one, merging it into an open incident, or dismissing it with a reason.

Each decision is one transaction that moves the report out of "new" with a guarded UPDATE, so
two people clicking at once (or a replayed click) decide it once; the other is shown the
decision that won.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.config import BeaconConfig
from services.declaring import parse_declaration
from services.deps import Deps, ThreadTarget
from services.freshdesk.inbound import ReportClassification, ReportedIssue
from services.incidents import DomainError, Incident, Level, Person
from services.incidents.model import clean_text
from services.intake.effects import ReportCard, TicketNote
from services.intake.links import auto_link, link_within, open_incident
from services.intake.tables import ReportRow, TicketLinkRow
from services.intake.within import record
from services.pipeline import declare_within
from services.store.uow import UnitOfWork

MAX_REASON = 1000


@dataclass(frozen=True)
class Report:
    ticket_id: int
    subject: str
    description: str
    priority: str
    requester_email: str
    company: str
    tags: tuple[str, ...]
    url: str
    impact: Level
    urgency: Level
    client: str
    service: str
    reasons: tuple[str, ...]
    status: str  # new | declared | merged | linked | dismissed
    incident_id: int | None
    decided_by: Person | None
    decided_at: datetime | None
    reason: str
    received_at: datetime

    @classmethod
    def from_row(cls, row: ReportRow) -> Report:
        return cls(row.ticket_id, row.subject, row.description, row.priority, row.requester_email, row.company,
                   tuple(row.tags or ()), row.url, Level(row.impact), Level(row.urgency), row.client, row.service,
                   tuple(row.reasons or ()), row.status, row.incident_id,
                   Person.from_dict(row.decided_by) if row.decided_by else None, row.decided_at, row.reason,
                   row.received_at)


async def queue_report_card(uow: UnitOfWork, ticket_id: int, key: str, now: datetime) -> None:
    """Post the report's card in the triage channel (key "post"), or redraw it after a decision."""
    await uow.outbox.add(ReportCard(ticket_id, "post" if key == "post" else "update",
                                    f"reported issue #{ticket_id} card", key), now=now)


async def receive_report(report: ReportedIssue, found: ReportClassification, url: str,
                         deps: Deps) -> tuple[Report | None, str]:
    """Store a report and queue its card: ("new"), the stored one for a ticket seen before
    ("duplicate"), or nothing for a ticket that is already an incident's ticket ("ignored")."""
    if "beacon" in (tag.casefold() for tag in report.tags):
        return None, "ignored"  # Beacon's own incident ticket, seen by a rule that fires on every ticket
    now = deps.clock.now()
    try:
        async with deps.uow() as uow:
            row = await uow.reported_issues.get(report.ticket_id)
            if row is not None:
                return Report.from_row(row), "duplicate"
            if await uow.tickets.is_linked(report.ticket_id):
                return None, "ignored"
            row = await uow.reported_issues.add(_report_row(report, found, url, now))
            await queue_report_card(uow, report.ticket_id, "post", now)
            linked = await auto_link(uow, row, deps, now)
            await uow.commit()
            return Report.from_row(row), "linked" if linked else "new"
    except IntegrityError:
        return await load_report(deps, report.ticket_id), "duplicate"


def _report_row(report: ReportedIssue, found: ReportClassification, url: str, now: datetime) -> ReportRow:
    return ReportRow(
        ticket_id=report.ticket_id, subject=report.subject[:300], description=report.description[:8000],
        priority=report.priority, requester_email=report.requester_email[:300], company=report.company[:200],
        tags=list(report.tags)[:50], url=url[:500], impact=found.impact.value, urgency=found.urgency.value,
        client=found.client, service=found.service, reasons=list(found.reasons), status="new",
        incident_id=None, decided_by=None, decided_at=None, reason="", received_at=now)


async def load_report(deps: Deps, ticket_id: int) -> Report:
    async with deps.uow() as uow:
        row = await uow.reported_issues.get(ticket_id, fresh=True)
    if row is None:
        raise DomainError(f"Freshdesk ticket #{ticket_id} is not a reported issue Beacon knows")
    return Report.from_row(row)


def prefilled_form(report: Report) -> dict[str, str]:
    """The Declare form's values: the ticket's subject and text, with the triage suggestion."""
    link = f"\n\nFreshdesk ticket #{report.ticket_id}" + (f": {report.url}" if report.url else "")
    who = f"\nReported by {report.requester_email}" if report.requester_email else ""
    return {"title": report.subject[:200], "description": (report.description[:3700] + who + link).strip(),
            "impact": report.impact.value, "urgency": report.urgency.value, "service": report.service,
            "client": report.client}


async def declare_from_report(ticket_id: int, form: dict[str, Any], actor: Person, target: ThreadTarget,
                              deps: Deps) -> tuple[Report, Incident | None]:
    """Declare an incident from the report's (edited) form, with the report's ticket as its ticket."""
    now = deps.clock.now()
    fields = parse_declaration(form, deps.config, now=now)
    async with deps.uow() as uow:
        row = await uow.reported_issues.claim(ticket_id, "declared", actor, now)
        if row is None:
            return await _decided(uow, ticket_id), None
        incident = Incident.declare(priority=deps.config.matrix.priority(fields["impact"], fields["urgency"]),
                                    declared_by=actor, source="freshdesk", now=now, **fields)
        await uow.people.remember([actor], now)

        async def link_ticket(declared: Incident) -> None:
            assert declared.id is not None
            await uow.tickets.add(TicketLinkRow(incident_id=declared.id, ticket_id=ticket_id, url=row.url,
                                                role="reported", state="linked", error="", created_at=now))
            await record(uow, declared, "ticket_linked", f"declared from Freshdesk ticket #{ticket_id}: "
                         f"{row.subject} (reported by {row.requester_email or 'unknown'})", now, actor=actor,
                         after={"ticket_id": ticket_id, "url": row.url})
            row.incident_id = declared.id

        await declare_within(uow, incident, target, deps, now, before_observers=link_ticket)
        await queue_report_card(uow, ticket_id, "declared", now)
        await uow.commit()
        return Report.from_row(row), incident


async def merge_report(ticket_id: int, incident_id: int, actor: Person, deps: Deps, *,
                       how: str = "merged") -> tuple[Report, bool]:
    """Add the report's ticket to an open incident (`how`: "merged" from the Merge form, "linked"
    from the card's Link to INC-n): on its timeline, its card and the ticket. False with the
    decision that stands when the report was already decided (a replayed click)."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident = await open_incident(uow, incident_id)
        row = await uow.reported_issues.claim(ticket_id, how, actor, now, incident_id=incident_id)
        if row is None:
            return await _decided(uow, ticket_id), False
        await link_within(uow, row, incident, actor, now, how=how)
        await queue_report_card(uow, ticket_id, f"{how}:{now.timestamp():.6f}", now)
        await uow.commit()
        return Report.from_row(row), True


async def dismiss_report(ticket_id: int, reason: object, actor: Person, deps: Deps, *, public_note: bool) -> Report:
    """Dismiss a report; the reason goes on the ticket."""
    text = clean_text(reason, "reason", limit=MAX_REASON, required=True)
    now = deps.clock.now()
    async with deps.uow() as uow:
        row = await uow.reported_issues.claim(ticket_id, "dismissed", actor, now, reason=text)
        if row is None:
            return await _decided(uow, ticket_id)
        await uow.outbox.add(TicketNote(
            None, ticket_id, f"<p>Not an incident: dismissed in Beacon triage by {html.escape(actor.name)}.</p>"
                             f"<p>{html.escape(text)}</p>",
            not public_note, f"Freshdesk note on #{ticket_id}", "dismissed:note"), now=now)
        await queue_report_card(uow, ticket_id, "dismissed", now)
        await uow.commit()
        return Report.from_row(row)


async def _decided(uow: UnitOfWork, ticket_id: int) -> Report:
    row = await uow.reported_issues.get(ticket_id, fresh=True)
    if row is None:
        raise DomainError(f"Freshdesk ticket #{ticket_id} is not a reported issue Beacon knows")
    return Report.from_row(row)


def suggested_priority(report: Report, config: BeaconConfig) -> str:
    return config.matrix.priority(report.impact, report.urgency)


def open_choices(incidents: Sequence[Incident]) -> list[tuple[int, str]]:
    """Open incidents a report can be merged into (drills are training, not real reports)."""
    return [(i.id, f"{i.number} {i.priority} · {i.title}") for i in incidents if i.id is not None and not i.drill]
