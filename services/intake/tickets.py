"""Every incident gets a Freshdesk ticket, and the ticket follows the incident.

The observer writes outbox rows in the transaction of the change (services.lifecycle observers);
ticket_delivery.py makes the calls. All of one incident's Freshdesk effects share an ordering key,
so an update never overtakes the creation of the ticket it updates. The builders here are pure.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from services.config import BeaconConfig
from services.effects import OutboxEffect
from services.freshdesk.mapping import FreshdeskStatus, freshdesk_priority
from services.incidents import Incident, Status, TimelineEvent
from services.intake.effects import CreateTicket, TicketNote, UpdateTicket
from services.intake.replies import (
    CUSTOMER_ROLES,
    LIVE_STATES,
    is_customer_ticket,
    queue_reply,
    replied,
    replies_for,
    stakeholder_sequence,
)
from services.intake.settings import IntakeSettings
from services.intake.tables import TicketLinkRow
from services.ports import TicketRequest
from services.store.uow import UnitOfWork

NOT_CONFIGURED = "Freshdesk not configured"

# Freshdesk has open, pending, resolved and closed. Monitoring is "pending": the fix is in and the
# team is waiting to see it hold, which is what pending means to a helpdesk agent.
STATUS: Mapping[Status, FreshdeskStatus] = {
    Status.TRIAGE: FreshdeskStatus.OPEN, Status.INVESTIGATING: FreshdeskStatus.OPEN,
    Status.FIXING: FreshdeskStatus.OPEN, Status.VERIFYING: FreshdeskStatus.OPEN,
    Status.MONITORING: FreshdeskStatus.PENDING, Status.RESOLVED: FreshdeskStatus.RESOLVED,
    Status.CLOSED: FreshdeskStatus.CLOSED,
}
_LIFECYCLE = frozenset({"status_changed", "reopened", "resolved", "closed"})


@dataclass(frozen=True)
class TicketChanges:
    """What one incident change means for its tickets: a PUT (only what changed) and notes."""

    priority: int | None = None
    status: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return self.priority is not None or self.status is not None or bool(self.notes)


def ticket_changes(incident: Incident, events: list[TimelineEvent],
                   noted: Callable[[TimelineEvent], bool] = lambda _: True) -> TicketChanges:
    """The PUT and the notes for a change; `noted` says which events become notes (on a
    customer's ticket, what a public reply says already is not noted again)."""
    priority = status = None
    notes: list[str] = []
    for event in events:
        before, after = event.before or {}, event.after or {}
        if event.kind == "priority_changed":
            old, new = freshdesk_priority(str(before.get("priority", ""))), freshdesk_priority(incident.priority)
            priority = new if new != old else priority
        elif event.kind in _LIFECYCLE and "status" in before and "status" in after:
            old_status, new_status = STATUS[Status(before["status"])], STATUS[Status(after["status"])]
            status = int(new_status) if new_status != old_status else status
        if not noted(event):
            continue
        if event.kind == "status_update":
            notes.append(update_note(incident, event))
        elif event.kind == "resolved":
            notes.append(f"<p><b>{incident.number} resolved</b></p><p>{_html_text(incident.resolution_summary)}</p>")
        elif event.kind == "report_completed":
            link = html.escape(str(after.get("link", "")), quote=True)
            notes.append(f"<p><b>{incident.number} post-incident report</b></p>"
                         f"<p>Root cause: {_html_text(str(after.get('root_cause', '')))}</p>"
                         f"<p><a href=\"{link}\">Read the report</a></p>")
    return TicketChanges(priority, status, tuple(notes))


def update_note(incident: Incident, event: TimelineEvent) -> str:
    """A status update as a note on the ticket: whose, for which audience, and its text."""
    after = event.after or {}
    who = event.actor.name if event.actor and not after.get("automatic") else "Beacon (automatic)"
    return (f"<p><b>{incident.number} {html.escape(str(after.get('audience', '')))} update</b> "
            f"by {html.escape(who)}</p><p>{_html_text(str(after.get('text', '')))}</p>")


async def automatic_update_notes(uow: UnitOfWork, updates: list[tuple[Incident, TimelineEvent, int]]
                                 ) -> list[OutboxEffect]:
    """Notes for the updates a scheduler batch posts (incident, its status_update event, the
    update's sequence), on each incident's live tickets: written in the batch's own transaction
    and keyed by audience and sequence, so each update reaches a ticket once, whatever retries."""
    ids = [incident.id for incident, _, _ in updates if incident.id is not None and not incident.drill]
    links: dict[int, list[TicketLinkRow]] = {}
    for link in await uow.tickets.live_of(ids, LIVE_STATES):
        links.setdefault(link.incident_id, []).append(link)
    notes: list[OutboxEffect] = []
    for incident, event, sequence in updates:
        audience = str((event.after or {}).get("audience", ""))
        # A customer's ticket only ever gets private notes: what customers read are replies.
        notes += [TicketNote(link.incident_id, link.ticket_id, update_note(incident, event),
                             True if link.role in CUSTOMER_ROLES else None,
                             f"{incident.number} Freshdesk note", f"update:{audience}:{sequence}", link_id=link.id)
                  for link in links.get(incident.id or 0, [])]
    return notes


def _html_text(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def ticket_request(incident: Incident, config: BeaconConfig, settings: IntakeSettings,
                   thread_url: str, requester_email: str) -> TicketRequest:
    """The ticket Beacon creates for a new incident, filed as `requester_email` (chosen by
    services.intake.requester, which says why when there is nobody)."""
    return TicketRequest(
        subject=f"[{incident.number}] {incident.title}"[:255],
        description_html=ticket_description(incident, thread_url),
        priority=freshdesk_priority(incident.priority),
        status=int(FreshdeskStatus.OPEN),
        tags=("beacon", incident.number),
        requester_email=requester_email,
        custom_fields=custom_fields(settings.custom_fields, incident),
    )


def ticket_description(incident: Incident, thread_url: str) -> str:
    details = [f"Priority {incident.priority} (impact {incident.impact}, urgency {incident.urgency})"]
    details += [f"{name} {value}" for name, value in (("service", incident.service), ("client", incident.client))
                if value]
    details.append(f"declared {incident.declared_at:%Y-%m-%d %H:%M} UTC by {incident.declared_by.name or 'someone'}")
    parts = [f"<p>Beacon incident <b>{incident.number}</b>: {html.escape(incident.title)}</p>",
             f"<p>{html.escape('; '.join(details))}</p>"]
    if incident.description:
        parts.append(f"<p>{_html_text(incident.description)}</p>")
    if thread_url:
        parts.append(f'<p><a href="{html.escape(thread_url, quote=True)}">Open the incident thread in '
                     f"Microsoft Teams</a></p>")
    else:
        parts.append(f"<p>Find {incident.number} in the incidents channel in Microsoft Teams.</p>")
    parts.append("<p>Beacon keeps this ticket's priority and status in step with the incident.</p>")
    return "".join(parts)


def configured_requester(incident: Incident, config: BeaconConfig, settings: IntakeSettings) -> str:
    """FRESHDESK_REQUESTER_EMAIL, else the incident's client's first contact with an email, else ''."""
    if settings.requester_email:
        return settings.requester_email
    client = config.client(incident.client) if incident.client else None
    return next((c.email for c in client.contacts if c.email), "") if client else ""


def custom_fields(template: Mapping[str, Any], incident: Incident) -> dict[str, object]:
    """FRESHDESK_CUSTOM_FIELDS with {number}, {title}, … filled in; other text is kept as is."""
    values = {"number": incident.number, "title": incident.title, "priority": incident.priority,
              "service": incident.service, "client": incident.client, "status": incident.status.value}
    return {name: _fill(value, values) for name, value in template.items()}


def _fill(value: object, values: dict[str, str]) -> object:
    if not isinstance(value, str):
        return value
    try:
        return value.format_map(values)
    except (KeyError, ValueError, IndexError, AttributeError):
        return value  # a brace that is not one of ours: the text was meant literally


def teams_thread_url(channel_id: str, conversation_id: str, root_id: str, tenant_id: str) -> str:
    """A deep link that opens the incident's thread in Teams."""
    where = channel_id or conversation_id.split(";")[0]
    query = urlencode({"tenantId": tenant_id, "parentMessageId": root_id} if tenant_id else
                      {"parentMessageId": root_id})
    return f"https://teams.microsoft.com/l/message/{quote(where, safe='')}/{quote(root_id, safe='')}?{query}"


# -- the observer ------------------------------------------------------------------------------

class TicketObserver:
    """A ticket for every incident (human or alert), then its priority, status and updates.
    Without Freshdesk settings nothing is queued: the declaration's own transaction records
    "not sent", so the timeline says it at once and no change later queues anything.

    Customers' tickets (the report an incident was declared from, reports merged or linked into
    it) follow the status too, get only private notes, and hear the stakeholder updates and the
    resolution as public replies (services.intake.replies), each reply before the PUT that
    follows it."""

    def __init__(self, settings: IntakeSettings, config: BeaconConfig, *, configured: bool,
                 status_link: Callable[[UnitOfWork, str, datetime], Awaitable[str]] | None = None):
        self.settings, self.config, self.configured = settings, config, configured
        self.status_link = status_link  # the client's status page, linked from its replies

    async def on_declared(self, uow: UnitOfWork, incident: Incident, now: datetime) -> None:
        assert incident.id is not None
        links = await uow.tickets.of(incident.id)
        if not self.configured:
            await self._not_sent(uow, incident, links, now)
        elif links:  # declared from a reported issue: that ticket is the incident's ticket
            for link in links:
                await self._send(uow, incident, link, TicketChanges(
                    priority=freshdesk_priority(incident.priority), status=int(FreshdeskStatus.OPEN),
                    notes=(f"<p>Declared as Beacon incident <b>{incident.number}</b> "
                           f"({incident.priority}): {html.escape(incident.title)}</p>",)), now)
        else:
            link = await uow.tickets.add(TicketLinkRow(incident_id=incident.id, ticket_id=None, url="", role="created",
                                                       state="creating", error="", created_at=now))
            await uow.outbox.add(CreateTicket(incident.id, link.id, f"{incident.number} Freshdesk ticket"), now=now)

    async def _not_sent(self, uow: UnitOfWork, incident: Incident, links: list[TicketLinkRow],
                        now: datetime) -> None:
        assert incident.id is not None
        if not links:
            await uow.tickets.add(TicketLinkRow(incident_id=incident.id, ticket_id=None, url="", role="created",
                                                state="not_sent", error=NOT_CONFIGURED, created_at=now))
        skipped = CreateTicket(incident.id, 0, "")
        await uow.timeline.record(incident.id, TimelineEvent(
            "delivery_skipped", now, None, f"not sent: {NOT_CONFIGURED}",
            after={"effect": skipped.kind, "key": skipped.idempotency_key}), incident.version)

    async def on_changed(self, uow: UnitOfWork, incident: Incident, events: list[TimelineEvent],
                         now: datetime) -> None:
        assert incident.id is not None
        if not self.configured:
            return
        changes = ticket_changes(incident, events)
        answered = any(replied(e) for e in events)
        if not changes and not answered:
            return  # most changes (a click on the card) touch no ticket: no query either
        links = [link for link in await uow.tickets.of(incident.id) if link.state in LIVE_STATES]
        customers = [link for link in links if is_customer_ticket(link)]
        replies = []
        if customers and answered:
            status_url = ""
            if incident.client and self.config.client(incident.client) and self.status_link is not None:
                status_url = await self.status_link(uow, incident.client, now)
            replies = replies_for(incident, events, self.config, await stakeholder_sequence(uow, incident), status_url)
        # Changes that bump the incident's version are keyed by it; a report completion does not
        # bump it, so it gets a key of its own (else it would collide with the resolution's note).
        tag = "report" if all(e.kind == "report_completed" for e in events) else f"v{incident.version}"
        customer_changes = ticket_changes(incident, events, noted=lambda e: not replied(e))
        for link in links:
            if link in customers:
                for reply in replies:
                    await queue_reply(uow, incident, link, reply, now)
                await self._send(uow, incident, link, customer_changes, now, tag=tag)
            else:
                await self._send(uow, incident, link, changes, now, tag=tag)

    async def _send(self, uow: UnitOfWork, incident: Incident, link: TicketLinkRow, changes: TicketChanges,
                    now: datetime, *, tag: str = "") -> None:
        assert incident.id is not None
        tag = tag or f"v{incident.version}"
        if changes.priority is not None or changes.status is not None:
            await uow.outbox.add(UpdateTicket(incident.id, link.id, link.ticket_id, changes.priority, changes.status,
                                              f"{incident.number} Freshdesk ticket update", f"{tag}:update"), now=now)
        # Internal notes never reach a customer: on their tickets every note is private, whatever
        # FRESHDESK_PUBLIC_NOTES says (it is for Beacon's own tickets).
        private = True if link.role in CUSTOMER_ROLES else not self.settings.public_notes
        for index, note in enumerate(changes.notes):
            await uow.outbox.add(TicketNote(incident.id, link.ticket_id, note, private,
                                            f"{incident.number} Freshdesk note", f"{tag}:note{index}", link_id=link.id),
                                 now=now)
