"""Freshdesk's automation-rule webhook (a user's report) → ReportedIssue, and its triage. Pure.

Freshdesk has no fixed webhook payload: the admin writes the body of the rule's "Trigger webhook"
action with placeholders. Beacon documents this one (README):

    {"ticket_id": "{{ticket.id}}", "subject": "{{ticket.subject}}",
     "description": "{{ticket.description}}", "priority": "{{ticket.priority}}",
     "requester_email": "{{ticket.from_email}}", "company": "{{ticket.company.name}}",
     "tags": "{{ticket.tags}}", "url": "{{ticket.url}}"}

Placeholders are substituted as text, so the id and priority arrive as strings ("123",
"Urgent" or "4") and tags as "a, b"; numbers and lists are accepted too, for hand-written bodies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache
from typing import Annotated, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

# Shared with the alert parsers so every intake endpoint words its 400s alike.
from services.alerts.model import describe_validation_error, shown
from services.html_text import html_to_text as html_to_text  # re-exported: it was defined here
from services.incidents.model import Level

PRIORITIES = ("Low", "Medium", "High", "Urgent")  # Freshdesk's 1..4
_PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+\s*\}\}")
_MAX_TICKET_ID = 2**63 - 1  # Freshdesk ids are 64-bit; anything larger is not a ticket
_RANK = {Level.LOW: 0, Level.MEDIUM: 1, Level.HIGH: 2}


class ReportFormatError(ValueError):
    """The webhook body is not the one Beacon documents; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ReportedIssue:
    ticket_id: int
    subject: str
    description: str  # plain text: Freshdesk sends the ticket's HTML
    priority: str  # "Low" | "Medium" | "High" | "Urgent", or "" when the body has none
    requester_email: str
    company: str
    tags: tuple[str, ...]
    url: str


def _unsubstituted(value: str) -> bool:
    return _PLACEHOLDER.fullmatch(value.strip()) is not None


def _ticket_id(value: object) -> int:
    if isinstance(value, str) and _unsubstituted(value):
        raise ValueError(f"is the placeholder {shown(value)}, not an id: check the automation rule's body")
    number = 0
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip().removeprefix("#")
        # Length first: int() of a megabyte of digits is slow, and no ticket id has 20 digits.
        number = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else 0
    if not 0 < number <= _MAX_TICKET_ID:
        raise ValueError(f"must be a ticket number such as \"123\", got {shown(value)}")
    return number


def _priority(value: object) -> str:
    if value is None or (isinstance(value, str) and (not value.strip() or _unsubstituted(value))):
        return ""  # no priority is a report like any other; triage uses the keywords
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if text in {"1", "2", "3", "4"}:
        return PRIORITIES[int(text) - 1]
    name = next((p for p in PRIORITIES if p.casefold() == text.casefold()), None) if text else None
    if name is None:
        raise ValueError(f"must be Low, Medium, High, Urgent or 1-4, got {shown(value)}")
    return name


def _tag_list(value: object) -> object:
    """Freshdesk renders {{ticket.tags}} as "a, b"; a hand-written body may send a list."""
    if value is None or isinstance(value, list):
        return value or []
    if isinstance(value, str):
        return value.split(",")
    raise ValueError(f"must be a comma-separated string or a list of strings, got {shown(value)}")


class TicketWebhook(BaseModel):
    # Strict: a number is not a subject. The id, priority and tags take their documented forms.
    model_config = ConfigDict(strict=True, extra="ignore")

    ticket_id: Annotated[int, BeforeValidator(_ticket_id)]
    subject: str | None = None
    description: str | None = None
    priority: Annotated[str, BeforeValidator(_priority)] = ""
    requester_email: str | None = None
    company: str | None = None
    tags: Annotated[list[str], BeforeValidator(_tag_list)] = []
    url: str | None = None


def parse_ticket_webhook(body: object) -> ReportedIssue:
    """A decoded webhook body → ReportedIssue, or ReportFormatError naming the field."""
    if not isinstance(body, dict):
        raise ReportFormatError("the body must be a JSON object with ticket_id, subject and description")
    try:
        wire = TicketWebhook.model_validate(body)
    except ValidationError as error:
        raise ReportFormatError(describe_validation_error(error)) from None
    return ReportedIssue(
        ticket_id=wire.ticket_id,
        subject=_text(wire.subject) or f"Freshdesk ticket #{wire.ticket_id}",
        description=html_to_text(_text(wire.description)),
        priority=wire.priority,
        requester_email=parseaddr(_text(wire.requester_email))[1].lower(),
        company=_text(wire.company),
        tags=_tags(wire.tags),
        url=_text(wire.url),
    )


def _text(value: str | None) -> str:
    """An optional field; a placeholder left as is means the ticket had no such value."""
    text = (value or "").strip()
    return "" if _unsubstituted(text) else text


def _tags(items: list[str]) -> tuple[str, ...]:
    tags = (_text(item) for item in items)
    return tuple(dict.fromkeys(tag for tag in tags if tag))  # ordered, without repeats


class ReportTriageConfig(BaseModel):
    """`report_triage:` in BEACON_CONFIG: how a reported issue gets its impact and urgency.

    Every signal that applies (a keyword, the client, the ticket's priority) gives a level and the
    highest wins, so a keyword can raise what the priority says but never lower it. The defaults
    apply only when no signal does.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    impact_keywords: dict[Level, list[str]] = Field(default_factory=lambda: {
        Level.HIGH: ["outage", "all users", "everyone", "data loss", "security breach"],
        Level.MEDIUM: ["degraded", "slow", "some users", "intermittent"],
    })
    urgency_keywords: dict[Level, list[str]] = Field(default_factory=lambda: {
        Level.HIGH: ["urgent", "asap", "immediately", "production down"],
    })
    priority_urgency: dict[str, Level] = Field(default_factory=lambda: {
        "Urgent": Level.HIGH, "High": Level.HIGH, "Medium": Level.MEDIUM, "Low": Level.LOW,
    })
    client_impact: dict[str, Level] = {}  # client name → at least this impact for its reports
    service_keywords: dict[str, list[str]] = {}  # service name → words that point to it
    default_impact: Level = Level.LOW  # one person's report, until something says more
    default_urgency: Level = Level.MEDIUM
    # Link a report that matches an open incident (same client, or service keywords, received
    # while it lasts) on receipt, instead of offering "Link to INC-n" first on its card.
    auto_link: bool = False


class ClientLike(Protocol):
    """A `directory.clients` entry of BEACON_CONFIG (services.config.ClientEntry)."""

    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> list[str]: ...
    @property
    def email_domains(self) -> list[str]: ...


@dataclass(frozen=True)
class ReportClassification:
    impact: Level
    urgency: Level
    client: str  # a directory client's name, or ""
    service: str  # a service name, or ""
    reasons: tuple[str, ...]  # shown on the Reported issue card, so triage can overrule them


def classify_report(report: ReportedIssue, rules: ReportTriageConfig, clients: Sequence[ClientLike] = (),
                    services: Sequence[str] = ()) -> ReportClassification:
    """Impact and urgency from keywords, the requester's client and the ticket's priority."""
    reasons: list[str] = []
    text = "\n".join((report.subject, report.description, " ".join(report.tags)))
    client = _client(report, clients, reasons)
    impacts = _keyword_levels(rules.impact_keywords, text, "impact", reasons)
    if client and client in rules.client_impact:
        impacts.append(rules.client_impact[client])
        reasons.append(f"client {client} → impact {rules.client_impact[client]}")
    urgencies = _keyword_levels(rules.urgency_keywords, text, "urgency", reasons)
    by_priority = {name.casefold(): level for name, level in rules.priority_urgency.items()}
    if report.priority and report.priority.casefold() in by_priority:
        urgencies.append(by_priority[report.priority.casefold()])
        reasons.append(f"priority {report.priority} → urgency {urgencies[-1]}")
    service = _service(report, text, rules.service_keywords, services, reasons)
    return ReportClassification(_highest(rules.default_impact, impacts), _highest(rules.default_urgency, urgencies),
                                client, service, tuple(reasons))


def _highest(default: Level, found: list[Level]) -> Level:
    # The default stands only when no signal applies; a signal can also lower it (a "Low" ticket).
    return max(found, key=_RANK.__getitem__) if found else default


@lru_cache(maxsize=512)
def _word(keyword: str) -> re.Pattern[str]:
    # Whole words and phrases: "down" must not match "download".
    return re.compile(rf"(?<!\w){re.escape(keyword.strip())}(?!\w)", re.IGNORECASE)


def _keyword_levels(table: dict[Level, list[str]], text: str, what: str, reasons: list[str]) -> list[Level]:
    found = []
    for level, keywords in table.items():
        hit = next((k for k in keywords if k.strip() and _word(k).search(text)), None)
        if hit is not None:
            found.append(level)
            reasons.append(f"keyword {hit!r} → {what} {level}")
    return found


def _client(report: ReportedIssue, clients: Sequence[ClientLike], reasons: list[str]) -> str:
    company = report.company.casefold()
    for client in clients:
        if company and company in {n.casefold() for n in (client.name, *client.aliases)}:
            reasons.append(f"company {report.company!r} is client {client.name}")
            return client.name
    domain = report.requester_email.rpartition("@")[2]
    for client in clients:
        for known in client.email_domains:
            if domain and (domain == known.casefold() or domain.endswith("." + known.casefold())):
                reasons.append(f"requester domain {domain} is client {client.name}")
                return client.name
    return ""


def _service(report: ReportedIssue, text: str, keywords: dict[str, list[str]], services: Sequence[str],
             reasons: list[str]) -> str:
    names = {name.casefold(): name for name in (*services, *keywords)}
    tagged = next((names[tag.casefold()] for tag in report.tags if tag.casefold() in names), None)
    if tagged:
        reasons.append(f"tag {tagged!r} → service {tagged}")
        return tagged
    for name, words in keywords.items():
        hit = next((w for w in words if w.strip() and _word(w).search(text)), None)
        if hit is not None:
            reasons.append(f"keyword {hit!r} → service {name}")
            return name
    return ""
