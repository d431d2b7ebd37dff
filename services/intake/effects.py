"""Intake's outbox effects: the incident's Freshdesk ticket (create, update, notes), public
replies to customers' tickets, and the Reported issue card in the triage channel.

All of one incident's Freshdesk effects share its Freshdesk ordering key, so an update never
overtakes the creation of the ticket it updates; a ticket that belongs to no incident (a dismissed
report) has a key of its own. A report's card posts before its redraws (one key per report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.effects import KEY_ONLY, Channel, OutboxEffect, ordering


@dataclass(frozen=True)
class CreateTicket(OutboxEffect):
    """The incident's ticket; `link_id` is the TicketLinkRow that will hold its number."""

    kind = "freshdesk.create"
    channel = Channel.FRESHDESK
    incident_id: int
    link_id: int
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:freshdesk:create"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_freshdesk(self.incident_id)


@dataclass(frozen=True)
class UpdateTicket(OutboxEffect):
    """A PUT of what changed (priority, status) on a linked ticket; the ticket number is read from
    the link at delivery when it was still being created."""

    kind = "freshdesk.update"
    channel = Channel.FRESHDESK
    incident_id: int
    link_id: int
    ticket_id: int | None
    priority: int | None
    status: int | None
    description: str
    tag: str = field(metadata=KEY_ONLY)

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:freshdesk:link{self.link_id}:{self.tag}"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_freshdesk(self.incident_id)


@dataclass(frozen=True)
class TicketNote(OutboxEffect):
    """A note on a ticket: one of the incident's links (`link_id`), or a reported issue's ticket
    (merged into an incident, or dismissed: then `incident_id` is None)."""

    kind = "freshdesk.note"
    channel = Channel.FRESHDESK
    incident_id: int | None
    ticket_id: int | None
    html: str
    private: bool | None  # None: FRESHDESK_PUBLIC_NOTES decides when it is delivered
    description: str
    tag: str = field(metadata=KEY_ONLY)
    link_id: int | None = None

    @property
    def idempotency_key(self) -> str:
        if self.link_id is not None:
            return f"incident:{self.incident_id}:freshdesk:link{self.link_id}:{self.tag}"
        return f"report:{self.ticket_id}:{self.tag}"

    @property
    def ordering_key(self) -> str:
        if self.incident_id is not None:
            return ordering.incident_freshdesk(self.incident_id)
        return ordering.freshdesk_ticket(self.ticket_id or 0)

    def payload(self) -> dict[str, Any]:
        target: dict[str, Any] = {"link_id": self.link_id} if self.link_id is not None else {}
        return {"incident_id": self.incident_id, **target, "ticket_id": self.ticket_id, "html": self.html,
                "private": self.private, "description": self.description}


@dataclass(frozen=True)
class CustomerReply(OutboxEffect):
    """A public reply to a customer's ticket linked to the incident: a stakeholder update or the
    resolution notice, in client-facing words. One per ticket and message (`message`: "update3",
    "resolved:v9"), so a retried transaction or delivery never answers a customer twice; the
    `reference` it carries lets a retry see whether an earlier attempt's reply went out."""

    kind = "freshdesk.reply"
    channel = Channel.FRESHDESK
    incident_id: int
    ticket_id: int
    html: str
    reference: str
    description: str
    message: str = field(metadata=KEY_ONLY)

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:freshdesk:ticket{self.ticket_id}:reply:{self.message}"

    @property
    def ordering_key(self) -> str:
        # Behind the incident's other Freshdesk effects: the resolution reply goes before the PUT
        # that resolves the ticket, as a person would answer and then close it.
        return ordering.incident_freshdesk(self.incident_id)


@dataclass(frozen=True)
class ReportCard(OutboxEffect):
    """Post a reported issue's card in the triage channel (mode "post"), or redraw it ("update")."""

    kind = "intake.report_card"
    channel = Channel.TEAMS
    ticket_id: int
    mode: str
    description: str
    tag: str = field(metadata=KEY_ONLY)

    @property
    def idempotency_key(self) -> str:
        return f"report:{self.ticket_id}:card:{self.tag}"

    @property
    def ordering_key(self) -> str:
        return ordering.reported_issue(self.ticket_id)

    @property
    def filed_under(self) -> int | None:
        return None
