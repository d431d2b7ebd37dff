"""What each audience reads: one template per audience, for every message of the communication plan.

- responders (the incident thread, the team's email): the team's own words: priority, status,
  impact and urgency, the commander;
- stakeholders (the stakeholder channel, the organisation's stakeholders by email): plain words;
- clients (a client's contacts by email and SMS, public replies on their tickets): plain words,
  nothing about how the team works, and whom to ask at the organisation.

Each says what is affected, for whom and since when (the impact's start, else the declaration);
what is being done; when the next update comes, on that audience's own cadence; and whom to
contact. Only text written for an audience reaches it: a stakeholder update's own words, or the
status in plain words, never a note. Pure: times stay datetimes until a renderer writes them for
its medium (UTC in email and SMS, the reader's own clock on cards).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from services.config import BeaconConfig, PersonEntry
from services.durations import span
from services.incidents import Incident, Level, Status

RESPONDERS, STAKEHOLDERS, CLIENTS = "responders", "stakeholders", "clients"
INITIAL, UPDATE, RESOLUTION = "initial", "update", "resolution"

# What is being done, said from the status, for a message nobody wrote (the initial notice, an
# automatic update).
DOING = {
    Status.TRIAGE: "The team is assessing the problem.",
    Status.INVESTIGATING: "The team is investigating the cause.",
    Status.FIXING: "The team has found the cause and is fixing it.",
    Status.VERIFYING: "A fix is in place; the team is checking that it works.",
    Status.MONITORING: "A fix is in place; the team is watching that it holds.",
    Status.RESOLVED: "The problem is resolved.",
    Status.CLOSED: "The problem is resolved.",
}


def cadence(config: BeaconConfig, incident: Incident, audience: str) -> timedelta:
    """How often an audience hears: stakeholders and clients on the stakeholders' cadence,
    responders on theirs, which follows the impact."""
    comms = config.communications
    if audience != RESPONDERS:
        return comms.stakeholder_update
    return comms.responder_update_high if incident.impact is Level.HIGH else comms.responder_update_other


def stakeholder_owner(incident: Incident, config: BeaconConfig) -> tuple[PersonEntry | None, str]:
    """The client's Account Owner for a customer-specific incident, else the Product Head."""
    client = config.client(incident.client) if incident.client else None
    if client and client.account_owner:
        return client.account_owner, f"Account Owner of {client.name}"
    return config.directory.product_head, "Product Head"


def audience_of_routes(incident: Incident) -> str:
    """Who the stakeholder routes reach: a client's contacts for a customer-specific incident."""
    return CLIENTS if incident.client else STAKEHOLDERS


@dataclass(frozen=True)
class Message:
    """One message to one audience, before it is written for a medium."""

    audience: str
    kind: str  # INITIAL, UPDATE or RESOLUTION
    reference: str  # "INC-7"
    title: str
    service: str
    client: str
    priority: str
    status: str
    since: datetime
    ended: datetime | None
    doing: str
    next_update: datetime | None
    contact: str  # whom to contact, as a message's "Who to contact" row says it: name, address, role
    author: str = ""
    automatic: bool = False
    sequence: int = 0
    # Just the name of whom to contact (an SMS has room for nothing more). "" in a message queued
    # before it was kept, which only cards read, and they show `contact`.
    contact_name: str = ""

    @property
    def heading(self) -> str:
        """What kind of message it is, in its audience's words (the reference is added by each medium)."""
        number = f" {self.sequence}" if self.sequence else ""
        if self.audience == RESPONDERS:
            by = f" by {self.author}" if self.author else ""
            return {INITIAL: f"Declared at {self.priority}", UPDATE: f"Responders update{number}",
                    RESOLUTION: f"Resolved{by}"}[self.kind]
        if self.audience == CLIENTS:
            return {INITIAL: "We are working on a problem", UPDATE: f"Update{number} on a problem",
                    RESOLUTION: "The problem is resolved"}[self.kind]
        return {INITIAL: "New incident", UPDATE: f"Stakeholder update{number}", RESOLUTION: "Resolved"}[self.kind]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("since", "ended", "next_update"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Message:
        values = dict(data)
        for key in ("since", "ended", "next_update"):
            values[key] = datetime.fromisoformat(str(values[key])) if values.get(key) else None
        return cls(**values)  # type: ignore[arg-type]


def _contact(incident: Incident, config: BeaconConfig, audience: str) -> tuple[str, str]:
    """Whom the audience contacts: (as the message says it, just the name)."""
    if audience == RESPONDERS:
        commander = incident.commander
        if commander is None:
            return "nobody has taken command yet", "nobody yet"
        name = commander.name or "the commander"
        return f"{name} (commander)", name
    owner, role = stakeholder_owner(incident, config)
    if owner is None or not owner.name:
        if audience == CLIENTS:
            return "your usual contact", "your usual contact"
        return "the incident's commander, in its thread", "the incident's commander"
    email = f" ({owner.email})" if owner.email else ""
    return f"{owner.name}{email}, " + ("your account manager" if audience == CLIENTS and incident.client
                                        else role), owner.name


def compose(incident: Incident, config: BeaconConfig, kind: str, audience: str, *, at: datetime,
            text: str = "", author: str = "", automatic: bool = False, sequence: int = 0,
            next_update: datetime | None = None) -> Message:
    """The message of `kind` for `audience`; `text` is what a person wrote for that audience (an
    update), `next_update` the audience's next due time when its timer knows it better than `at`
    plus its cadence."""
    since = incident.impact_started_at or incident.declared_at
    if kind == RESOLUTION:
        doing = incident.resolution_summary
    else:
        doing = text.strip() or DOING[incident.status]
    if incident.is_open and kind != RESOLUTION:
        next_update = next_update or at + cadence(config, incident, audience)
    else:
        next_update = None
    contact, contact_name = _contact(incident, config, audience)
    return Message(audience, kind, incident.number, incident.title, incident.service or "", incident.client or "",
                   incident.priority, incident.status.value, since,
                   (incident.resolved_at or at) if kind == RESOLUTION else None, doing, next_update,
                   contact, author, automatic, sequence, contact_name)


Escape = Callable[[str], str]


def _unchanged(value: str) -> str:
    return value


def rows(message: Message, when: Callable[[datetime], str], escape: Escape = _unchanged) -> list[tuple[str, str]]:
    """The message's facts as (label, value), in its audience's words. `when` writes a time for the
    medium; `escape` makes written text safe for it (times are not escaped)."""
    m, e = message, escape
    service = f" ({e(m.service)})" if m.service else ""
    whom = f", for {e(m.client)}" if m.client else ""
    if m.kind == RESOLUTION and m.ended is not None:
        window = f"from {when(m.since)} to {when(m.ended)} ({span(m.ended - m.since)})"
        found = [("What was affected", f"{e(m.title)}{service}{whom}, {window}")]
    else:
        found = [("What is affected", f"{e(m.title)}{service}{whom}, since {when(m.since)}")]
    if m.audience == RESPONDERS:
        found.append(("Priority", f"{e(m.priority)}, status {e(m.status)}"))
    elif m.audience == STAKEHOLDERS:
        found.append(("Priority", e(m.priority)))
    found.append(("What fixed it" if m.kind == RESOLUTION else "What is being done", e(m.doing)))
    if m.next_update is not None:
        found.append(("Next update", f"by {when(m.next_update)}"))
    found.append(("Commander" if m.audience == RESPONDERS else "Who to contact", e(m.contact)))
    return found


def byline(message: Message) -> str:
    """Who wrote it, for the organisation's own readers; clients read no names of the team."""
    if message.audience == CLIENTS or message.kind != UPDATE:
        return ""
    if message.automatic:
        return "Posted automatically: nobody had written this update when it fell due."
    return f"Posted by {message.author}." if message.author else ""


def utc(moment: datetime) -> str:
    return f"{moment:%d %b %Y, %H:%M} UTC"


@dataclass(frozen=True)
class Email:
    subject: str
    html: str
    text: str


def status_sentence(client: str) -> str:
    return f"Follow this and every other incident affecting {client or 'you'} on your status page"


def status_paragraph(client: str, status_url: str) -> str:
    """The link to the client's status page, as the last paragraph of an email to its people."""
    if not status_url:
        return ""
    return (f"<p style='margin-top:12px'><a href=\"{html.escape(status_url, quote=True)}\">"
            f"{html.escape(status_sentence(client))}</a></p>")


def subscribed_sentence(client: str) -> str:
    """Why a status page subscriber gets the email, before its unsubscribe link."""
    whose = f"{client}'s" if client else "these"
    return f"You get this email because you subscribed to {whose} incident updates"


def email(message: Message, status_url: str = "", unsubscribe_url: str = "") -> Email:
    """HTML and plain text, short and readable on a phone; everything people wrote is escaped.
    `status_url`: the client's status page, for the client's people; `unsubscribe_url`: how a
    status page subscriber stops these emails."""
    m = message
    subject = f"[{m.reference}] {m.heading}: {m.title}"[:200]
    heading = f"{m.reference} · {m.heading}"
    table = "".join(f"<p style='margin:0 0 10px'><b>{html.escape(label)}:</b> {value}</p>"
                    for label, value in rows(m, utc, html.escape))
    by = byline(m)
    why = subscribed_sentence(m.client)
    page = (f"<div style='font-family:Segoe UI,Arial,sans-serif;font-size:16px;line-height:1.5;max-width:600px'>"
            f"<h2 style='font-size:20px'>{html.escape(heading)}</h2>{table}"
            + (f"<p style='color:#555'>{html.escape(by)}</p>" if by else "")
            + f"<p style='color:#555'>Reference: {html.escape(m.reference)}</p>"
            + f"{status_paragraph(m.client, status_url)}"
            + (f"<p style='color:#555'>{html.escape(why)}. <a href=\"{html.escape(unsubscribe_url, quote=True)}\">"
               "Unsubscribe</a></p>" if unsubscribe_url else "") + "</div>")
    plain = "\n".join([heading, "", *(f"{label}: {value}" for label, value in rows(m, utc)), "",
                       *([by] if by else []), f"Reference: {m.reference}"])
    if status_url:
        plain += f"\n\n{status_sentence(m.client)}: {status_url}"
    if unsubscribe_url:
        plain += f"\n\n{why}.\nUnsubscribe: {unsubscribe_url}"
    return Email(subject, page, plain)


SMS_LIMIT = 160  # one segment


def sms(message: Message) -> str:
    """One SMS segment: what, since when (or for how long and what fixed it), when next, whom to ask;
    the title or the fix is shortened to fit."""
    m = message
    if m.kind == RESOLUTION and m.ended is not None:
        head, tail = f"{m.reference} resolved: ", f". Affected {span(m.ended - m.since)}. Fixed: {m.doing}"
    else:
        nxt = f" Next update by {m.next_update:%H:%M} UTC." if m.next_update else ""
        head, tail = f"{m.reference}: ", f", since {m.since:%H:%M} UTC.{nxt} Contact {m.contact_name}."
    room = SMS_LIMIT - len(head + tail)
    title = m.title if len(m.title) <= room else m.title[:max(20, room - 1)] + "…"
    text = head + title + tail
    return text if len(text) <= SMS_LIMIT else text[:SMS_LIMIT - 1] + "…"
