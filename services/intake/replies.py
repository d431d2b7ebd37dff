"""Public replies to customers' tickets: what the people who reported a problem read.

Every stakeholder update a person wrote, and the resolution notice, goes as a public reply
(Freshdesk emails it to the requester) to every customer ticket linked to the incident: the report
it was declared from, and the reports merged or linked into it. In client-facing words only: what
is affected and since when, what is being done (the stakeholder update's own text), when the next
update comes, and who to contact. Never internal notes, responder updates, the names of responders
or the commander, nor Beacon's automatic updates (they are built from the timeline).

Each reply is its own outbox row keyed by ticket and message (the stakeholder update's sequence,
or the resolution of one incident version), queued in the transaction of the update. Its visible
reference ("INC-7-U3") lets a retry whose earlier attempt may have reached Freshdesk see whether
the reply is already on the ticket before sending it (Freshdesk has no idempotency key).
The builders here are pure.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.comms.messages import CLIENTS, RESOLUTION, STAKEHOLDERS, UPDATE, Message, compose, rows, utc
from services.config import BeaconConfig
from services.incidents import Incident, TimelineEvent
from services.intake.effects import CustomerReply
from services.intake.links import CUSTOMER_ROLES
from services.intake.tables import TicketLinkRow
from services.store.uow import UnitOfWork

LIVE_STATES = ("creating", "linked")  # links worth sending changes to


@dataclass(frozen=True)
class Reply:
    message: str  # what the idempotency key names: "update3", "resolved:v9"
    reference: str  # shown to the customer, and how a retry recognises the reply
    html: str


def is_customer_ticket(link: TicketLinkRow) -> bool:
    return link.role in CUSTOMER_ROLES and link.ticket_id is not None and link.state in LIVE_STATES


def replied(event: TimelineEvent) -> bool:
    """Whether an event reaches customers as a public reply: a stakeholder update written by a
    person, or the resolution."""
    after = event.after or {}
    if event.kind == "status_update":
        return after.get("audience") == STAKEHOLDERS and not after.get("automatic")
    return event.kind == "resolved"


def _letter(greeting: str, message: Message, closing: str, reference: str, status_url: str) -> str:
    """The clients' message (comms.messages) as a reply on the customer's own ticket."""
    body = "".join(f"<p><b>{html.escape(label)}:</b> {value}</p>"
                   for label, value in rows(message, utc, _paragraphs)
                   if label != "Who to contact")
    link = html.escape(status_url, quote=True)
    follow = (f"<p>Follow this and any other incident affecting you on <a href=\"{link}\">your status page</a>.</p>"
              if status_url else "")
    return (f"<p>Hello,</p><p>{greeting}</p>{body}<p>{closing}</p>{follow}"
            f"<p style=\"color:#555\">Reference: {html.escape(reference)}</p>")


def _paragraphs(text: str) -> str:
    return html.escape(text.strip()).replace("\n", "<br>")


def contact_line(message: Message, *, ask: str = "Reply to this email with any question") -> str:
    """Who the customer can ask: a reply to the ticket, and the clients' contact."""
    return f"{ask}, or contact {html.escape(message.contact)}."


def update_reply(message: Message, status_url: str = "") -> Reply:
    reference = f"{message.reference}-U{message.sequence}"
    return Reply(f"update{message.sequence}", reference, _letter(
        "Thank you for reporting this problem. We know about it and are working on it; here is where we are.",
        message, contact_line(message), reference, status_url))


def resolution_reply(incident: Incident, message: Message, status_url: str = "") -> Reply:
    reference = f"{incident.number}-R{incident.version}"
    return Reply(f"resolved:v{incident.version}", reference, _letter(
        "The problem you reported is resolved, and we are marking your ticket as resolved.", message,
        contact_line(message, ask="If you still see it, reply to this email and we will look again"),
        reference, status_url))


def replies_for(incident: Incident, events: Sequence[TimelineEvent], config: BeaconConfig,
                stakeholder_sequence: int, status_url: str = "") -> list[Reply]:
    """The replies one change of the incident sends to each of its customers' tickets;
    `status_url`: the client's status page, for an incident of one client."""
    found: list[Reply] = []
    for event in events:
        if not replied(event):
            continue
        if event.kind == "resolved":
            found.append(resolution_reply(incident, compose(incident, config, RESOLUTION, CLIENTS, at=event.at),
                                          status_url))
            continue
        found.append(update_reply(compose(incident, config, UPDATE, CLIENTS, at=event.at,
                                          text=str((event.after or {}).get("text", "")),
                                          sequence=stakeholder_sequence), status_url))
    return found


async def stakeholder_sequence(uow: UnitOfWork, incident: Incident) -> int:
    """The sequence of the stakeholder update this change posted: the communication plan advanced
    the stakeholders' timer past it earlier in the same transaction (services.comms.hooks)."""
    assert incident.id is not None
    timer = await uow.timers.get(incident.id, STAKEHOLDERS)
    return max(1, timer.sequence - 1) if timer is not None else 1


async def queue_reply(uow: UnitOfWork, incident: Incident, link: TicketLinkRow, reply: Reply,
                      now: datetime) -> None:
    assert incident.id is not None and link.ticket_id is not None
    await uow.outbox.add(CustomerReply(incident.id, link.ticket_id, reply.html, reply.reference,
                                       f"{incident.number} reply to Freshdesk #{link.ticket_id}", reply.message),
                         now=now)
