"""The communication plan as pure functions: who hears about an incident, and what they read."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.config import BeaconConfig, PersonEntry
from services.dedupe import unique_by
from services.incidents import Incident, Level, Person, TimelineEvent
from services.incidents.model import MAX_TEXT
from services.paging.escalation import declared_by_alert
from services.ports import Recipient

RESPONDERS, STAKEHOLDERS = "responders", "stakeholders"
QUIET_KINDS = {"update_reminder", "delivery_sent", "delivery_failed", "delivery_skipped", "notified"}
CHANGES_SHOWN = 6  # the latest changes an automatic update lists
# What only the team reads (notes are guesses and working thoughts): never in an automatic update
# for stakeholders, who include a client's contacts.
INTERNAL_KINDS = frozenset({"note", "refused"})


@dataclass(frozen=True)
class Routes:
    """Where the initial notification, stakeholder updates and the resolution notice go."""

    stakeholder_emails: tuple[Recipient, ...]
    team_emails: tuple[Recipient, ...]
    sms_numbers: tuple[str, ...]

    def to_dict(self) -> dict[str, list[object]]:
        return {"stakeholder_emails": [[r.email, r.name] for r in self.stakeholder_emails],
                "team_emails": [[r.email, r.name] for r in self.team_emails],
                "sms_numbers": list(self.sms_numbers)}

    @classmethod
    def from_dict(cls, data: dict[str, list[list[str]] | list[str]]) -> Routes:
        return cls(tuple(Recipient(*r) for r in data.get("stakeholder_emails", [])),  # type: ignore[misc]
                   tuple(Recipient(*r) for r in data.get("team_emails", [])),  # type: ignore[misc]
                   tuple(str(n) for n in data.get("sms_numbers", [])))


def _recipients(people: list[PersonEntry]) -> list[Recipient]:
    return [Recipient(p.email, p.name) for p in people if p.email]


def _unique(recipients: list[Recipient]) -> tuple[Recipient, ...]:
    return tuple(unique_by(recipients, lambda recipient: recipient.email))


def stakeholder_owner(incident: Incident, config: BeaconConfig) -> tuple[PersonEntry | None, str]:
    """The client's Account Owner for a customer-specific incident, else the Product Head."""
    client = config.client(incident.client) if incident.client else None
    if client and client.account_owner:
        return client.account_owner, f"Account Owner of {client.name}"
    return config.directory.product_head, "Product Head"


def responder_owner(incident: Incident) -> Person:
    """The commander; else, for an incident Beacon declared from an alert, whoever acknowledged its
    page (Beacon cannot write updates); else the declarer."""
    if incident.commander is not None:
        return incident.commander
    if declared_by_alert(incident) and incident.acknowledged_by is not None:
        return incident.acknowledged_by
    return incident.declared_by


def routes_for(incident: Incident, config: BeaconConfig) -> Routes:
    client = config.client(incident.client) if incident.client else None
    owner, _ = stakeholder_owner(incident, config)
    if client:
        stakeholders = _recipients(client.contacts + ([owner] if owner else []))
    else:
        stakeholders = _recipients(config.directory.stakeholders + ([owner] if owner else []))
    service = config.service(incident.service) if incident.service else None
    team = next((t for t in config.directory.teams if service and t.name == service.team), None)
    team_emails = ([Recipient(team.email, team.name)] if team and team.email else []) + (
        _recipients(team.members) if team else [])
    numbers: list[str] = []
    if incident.impact is Level.HIGH:
        people = (client.contacts if client else config.directory.stakeholders) + (team.members if team else [])
        numbers = [p.phone for p in people if p.phone]
    return Routes(_unique(stakeholders), _unique(team_emails), tuple(dict.fromkeys(numbers)))


def changes_since_last_update(timeline: list[TimelineEvent]) -> list[str]:
    last = max((i for i, e in enumerate(timeline) if e.kind == "status_update"), default=-1)
    return [e.summary for e in timeline[last + 1:] if e.kind not in QUIET_KINDS | {"status_update"}]


def automatic_update_text(incident: Incident, timeline: list[TimelineEvent], audience: str = RESPONDERS) -> str:
    if audience != RESPONDERS:
        timeline = [e for e in timeline if e.kind not in INTERNAL_KINDS]
    changes = changes_since_last_update(timeline)
    lines = [f"{incident.number} is {incident.status.value} at {incident.priority}."]
    lines += [f"Since the last update: {'; '.join(changes[-CHANGES_SHOWN:])}."] if changes else [
        "No change since the last update."]
    text = " ".join(lines)
    # Long notes could make it longer than an update may be, and the update would never go out.
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def elapsed(start: datetime, end: datetime) -> str:
    minutes = int((end - start) / timedelta(minutes=1))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def resolution_text(incident: Incident) -> str:
    end = incident.resolved_at or incident.declared_at
    return (f"{incident.number} is resolved after {elapsed(incident.declared_at, end)}. "
            f"Impact was {incident.impact.value} ({incident.priority}). "
            f"What fixed it: {incident.resolution_summary}")


def initial_text(incident: Incident) -> str:
    where = f" for {incident.client}" if incident.client else ""
    service = f" on {incident.service}" if incident.service else ""
    return (f"{incident.label} declared at {incident.priority}{where}{service}: {incident.title}. "
            f"Impact {incident.impact.value}, urgency {incident.urgency.value}.")


@dataclass(frozen=True)
class Email:
    subject: str
    html: str
    text: str


def email(incident: Incident, heading: str, body: str, status_url: str = "") -> Email:
    """HTML and plain text, short and readable on a phone; everything from users is escaped.
    `status_url`: the client's status page, for the client's people."""
    subject = f"[{incident.number}] {heading}: {incident.title}"[:200]
    rows = [("Priority", incident.priority), ("Status", incident.status.value),
            ("Service", incident.service or "—"), ("Client", incident.client or "internal")]
    table = "".join(f"<tr><td style='padding:2px 8px 2px 0;color:#555'>{html.escape(k)}</td>"
                    f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
    page = (f"<div style='font-family:Segoe UI,Arial,sans-serif;font-size:15px;max-width:600px'>"
            f"<h2 style='font-size:18px'>{html.escape(incident.number)} · {html.escape(heading)}</h2>"
            f"<p>{html.escape(body)}</p><table>{table}</table>{status_paragraph(incident, status_url)}</div>")
    plain = "\n".join([f"{incident.number} · {heading}", "", body, ""] + [f"{k}: {v}" for k, v in rows])
    if status_url:
        plain += f"\n\n{status_sentence(incident)}: {status_url}"
    return Email(subject, page, plain)


def status_sentence(incident: Incident) -> str:
    return f"Follow this and every other incident affecting {incident.client or 'you'} on your status page"


def status_paragraph(incident: Incident, status_url: str) -> str:
    """The link to the client's status page, as the last paragraph of an email to its people."""
    if not status_url:
        return ""
    return (f"<p style='margin-top:12px'><a href=\"{html.escape(status_url, quote=True)}\">"
            f"{html.escape(status_sentence(incident))}</a></p>")


def sms(incident: Incident, body: str) -> str:
    return f"{incident.number} {incident.priority}: {body}"
