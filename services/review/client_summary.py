"""The customer-facing summary of an incident, as data: what the client's contacts read instead of
the internal report (which keeps internal notes, names and Beacon's delivery log).

Pure. The draft is built only from what was written for readers outside the team: the title,
the owner's impact and root-cause answers, the resolution summary and the corrective actions'
titles. Timeline notes never reach it, and the report owner reads and approves every word
before anything is sent.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.comms.messages import status_paragraph, status_sentence
from services.config import BeaconConfig
from services.durations import span
from services.incidents import DomainError, Incident

FIELDS = (("happened", "What happened"), ("impact_window", "When you were affected"),
          ("done", "What we did"), ("prevention", "What prevents a recurrence"))
FIELD_LIMIT = 2000


class SummaryIncomplete(DomainError):
    """An edited summary with an empty or too long section; `problems` by field."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class ClientSummary:
    happened: str
    impact_window: str
    done: str
    prevention: str

    def sections(self) -> list[tuple[str, str]]:
        return [(heading, str(getattr(self, name))) for name, heading in FIELDS]

    @classmethod
    def from_values(cls, data: Mapping[str, Any]) -> ClientSummary:
        """As typed in the edit dialog, each section checked on its own."""
        values = {name: str(data.get(name) or "").strip() for name, _ in FIELDS}
        problems = {name: f"“{heading}” must not be empty" for name, heading in FIELDS if not values[name]}
        problems |= {name: f"“{heading}” is longer than {FIELD_LIMIT} characters"
                     for name, heading in FIELDS if len(values[name]) > FIELD_LIMIT}
        if problems:
            raise SummaryIncomplete(problems)
        return cls(**values)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC").lstrip("0")


def _sentence(value: str) -> str:
    value = value.strip()
    return value if not value or value[-1] in ".!?" else value + "."


def draft(incident: Incident, impact: str, root_cause: str, actions: list[str]) -> ClientSummary:
    """The first draft, from the report the owner has just completed."""
    start, end = incident.impact_started_at or incident.declared_at, incident.resolved_at
    service = f" {incident.service}" if incident.service else ""
    happened = " ".join(part for part in (_sentence(impact or incident.title),
                                           f"Cause: {_sentence(root_cause)}" if root_cause else "") if part)
    window = (f"From {_stamp(start)} to {_stamp(end)} ({span(end - start)}), our{service} service was affected."
              if end else f"Since {_stamp(start)}, our{service} service was affected.")
    done = _sentence(incident.resolution_summary or "We restored the service")
    prevention = ("; ".join(a.strip().rstrip(".") for a in actions if a.strip()) + "." if any(
        a.strip() for a in actions) else "We are reviewing what would prevent a recurrence and will follow up.")
    return ClientSummary(happened, window, done, prevention)


def internal_addresses(config: BeaconConfig) -> set[str]:
    """Addresses of the organisation's own people: they read the full report. Every other address
    that heard about an incident (a client's contacts) gets the approved summary only."""
    people = [*config.directory_people(), *(c.account_owner for c in config.directory.clients if c.account_owner)]
    return {address.lower() for address in [*(p.email for p in people), *(t.email for t in config.directory.teams)]
            if address}


@dataclass(frozen=True)
class SummaryEmail:
    subject: str
    html: str
    text: str


def summary_email(incident: Incident, client: str, summary: ClientSummary, contact_name: str,
                  contact_email: str, status_url: str = "") -> SummaryEmail:
    """The email the client's contacts get: the four sections, who to contact and the client's
    status page (`status_url`); everything typed by people is escaped, and the plain text says the
    same."""
    heading = f"Incident summary: {incident.title}"
    subject = f"[{incident.number}] {heading}"[:200]
    greeting = f"This is our summary of incident {incident.number}" + (f" for {client}" if client else "") + "."
    contact = (f"Questions? Contact {contact_name}" + (f" at {contact_email}" if contact_email else "") + "."
               if contact_name or contact_email else "")
    parts = [f"<h2 style='font-size:18px;margin:0 0 12px'>{html.escape(heading)}</h2>",
             f"<p>{html.escape(greeting)}</p>"]
    for title, body in summary.sections():
        paragraph = "<br>".join(html.escape(line) for line in body.splitlines())
        parts.append(f"<h3 style='font-size:16px;margin:16px 0 4px'>{html.escape(title)}</h3><p>{paragraph}</p>")
    if contact:
        parts.append(f"<p style='margin-top:16px'>{html.escape(contact)}</p>")
    parts.append(status_paragraph(incident.client, status_url))
    page = (f"<div style='font-family:Segoe UI,Arial,sans-serif;font-size:15px;line-height:1.4;max-width:600px'>"
            f"{''.join(parts)}</div>")
    lines = [heading, "", greeting]
    for title, body in summary.sections():
        lines += ["", title, body]
    if contact:
        lines += ["", contact]
    if status_url:
        lines += ["", f"{status_sentence(incident.client)}: {status_url}"]
    return SummaryEmail(subject, page, "\n".join(lines))
