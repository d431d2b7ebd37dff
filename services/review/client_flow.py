"""Use cases of the customer summary: drafted when the report is completed (in its transaction),
edited and approved by the report owner, and only then emailed to the client's contacts, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.deps import Deps
from services.effects.messages import SendEmail
from services.incidents import DomainError, Incident, IncidentNotFound, Person, TimelineEvent
from services.review.client_summary import ClientSummary, draft, summary_email
from services.review.effects import ReviewThreadCard
from services.review.tables import ClientSummaryRow, ReportRow
from services.store.uow import UnitOfWork

SENT, ALREADY_SENT, CHANGED = "sent", "already sent", "changed"


def summary_of(row: ClientSummaryRow) -> ClientSummary:
    return ClientSummary(row.happened, row.impact_window, row.done, row.prevention)


async def draft_for_clients(uow: UnitOfWork, incident: Incident, report: ReportRow,
                            recipients: list[tuple[str, str]], actions: list[str], now: datetime) -> None:
    """Store the first draft and ask the report owner to approve it in the incident thread."""
    assert incident.id is not None
    if not recipients or await uow.reviews.client_summary(incident.id) is not None:
        return
    first = draft(incident, report.impact_narrative, report.root_cause, actions)
    await uow.reviews.add_client_summary(ClientSummaryRow(
        incident_id=incident.id, client=incident.client, happened=first.happened, impact_window=first.impact_window,
        done=first.done, prevention=first.prevention, recipients=[[email, name] for email, name in recipients],
        revision=1, drafted_at=now))
    await uow.outbox.add(ReviewThreadCard(incident.id, "client_summary", "client-summary"), now=now)
    who = incident.client or "the client"
    await _record(uow, incident, "client_summary_drafted", None,
                  f"customer summary for {who} drafted: it is sent to {len(recipients)} contact(s) once "
                  f"{report.owner_name or 'the report owner'} approves it", now)


async def _record(uow: UnitOfWork, incident: Incident, kind: str, actor: Person | None, summary: str,
                  now: datetime) -> None:
    assert incident.id is not None
    await uow.timeline.record(incident.id, TimelineEvent(kind, now, actor, summary), incident.version)


async def _load(uow: UnitOfWork, incident_id: int) -> tuple[Incident, ClientSummaryRow, ReportRow]:
    incident = await uow.incidents.get(incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id} does not exist")
    row, report = await uow.reviews.client_summary(incident_id), await uow.reviews.report(incident_id)
    if row is None or report is None:
        raise DomainError(f"{incident.label} has no customer summary: none of its contacts is outside the "
                          f"organisation, or its report is not complete yet")
    return incident, row, report


@dataclass(frozen=True)
class Approval:
    outcome: str  # SENT, ALREADY_SENT or CHANGED (the card showed an older draft: nothing sent)
    row: ClientSummaryRow


async def approve(deps: Deps, incident_id: int, revision: int, actor: Person, activity_id: str = "") -> Approval:
    """Send the draft the approver saw to each of the client's contacts, once, however often
    (or from however many cards) it is approved."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident, row, report = await _load(uow, incident_id)
        if row.approved_at is not None:
            return Approval(ALREADY_SENT, row)
        if row.revision != revision:
            return Approval(CHANGED, row)
        if activity_id and not await uow.activities.mark_processed(activity_id, incident_id, now):
            return Approval(ALREADY_SENT, row)
        if not await uow.reviews.claim_client_summary(incident_id, revision,
                                                      {"approved_at": now, "approved_by": actor.to_dict()}):
            return Approval(ALREADY_SENT, await _reread(uow, incident_id))
        mail = summary_email(incident, row.client, summary_of(row), report.owner_name, report.owner_email,
                             await deps.status_url(uow, incident, now))
        for email, name in row.recipients:
            await uow.outbox.add(SendEmail(incident_id, "client-summary", email, name, mail.subject, mail.html,
                                           mail.text, f"customer summary to {email}"), now=now)
        await _record(uow, incident, "client_summary_sent", actor,
                      f"{actor.name} approved the customer summary for {row.client or 'the client'}: sent to "
                      f"{', '.join(email for email, _ in row.recipients)}", now)
        await uow.commit()
        return Approval(SENT, await _reread(uow, incident_id))


async def _reread(uow: UnitOfWork, incident_id: int) -> ClientSummaryRow:
    row = await uow.reviews.client_summary(incident_id)
    assert row is not None
    return row


async def edit(deps: Deps, incident_id: int, revision: int, data: dict[str, Any], actor: Person) -> ClientSummaryRow:
    """The owner's wording replaces the draft (checked section by section; a bad one changes
    nothing). A summary already sent, or changed since the editor opened it, is refused."""
    summary = ClientSummary.from_values(data)
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident, row, _ = await _load(uow, incident_id)
        if row.approved_at is not None:
            raise DomainError(f"The customer summary of {incident.label} was already sent: it can no longer change")
        values = {"happened": summary.happened, "impact_window": summary.impact_window, "done": summary.done,
                  "prevention": summary.prevention, "revision": revision + 1, "edited_by": actor.to_dict()}
        if not await uow.reviews.claim_client_summary(incident_id, revision, values):
            raise DomainError(f"The customer summary of {incident.label} changed while you edited it: "
                              f"open it again to see the latest wording")
        await _record(uow, incident, "client_summary_edited", actor,
                      f"{actor.name} edited the customer summary for {row.client or 'the client'}", now)
        await uow.commit()
        return await _reread(uow, incident_id)


async def current(deps: Deps, incident_id: int) -> tuple[Incident, ClientSummaryRow, ReportRow]:
    """The incident, its customer summary as it stands, and its report (for the owner)."""
    async with deps.uow() as uow:
        return await _load(uow, incident_id)
