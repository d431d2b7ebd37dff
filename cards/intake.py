"""Intake on cards: the Reported issue card (triage of a Freshdesk report) and what alerts and
tickets add to the incident card. Pure functions of view models; wording is here, together."""

from __future__ import annotations

from dataclasses import dataclass, field

from cards.elements import (
    Json,
    card,
    choice_set,
    container,
    execute,
    facts,
    input_text,
    open_url,
    plain,
    short,
    show_card,
    text,
    when,
)
from cards.incident import LEVEL_CHOICES, PRIORITY_STYLE, ViewExtras
from services.config import BeaconConfig
from services.incidents.model import MAX_TEXT, MAX_TITLE
from services.intake.links import CUSTOMER_ROLES, Match
from services.intake.reports import MAX_REASON, Report, prefilled_form
from services.intake.summary import IntakeSummary
from services.policy import SYSTEM_ACTOR
from services.verbs import Verb

REPORT_HEADING = "Reported issue · Freshdesk #{ticket}"
SUGGESTED = "Suggested **{priority}**: impact {impact} × urgency {urgency}"
DECLARE = "Declare incident"
MERGE = "Merge into an incident"
DISMISS = "Dismiss"
LINK = "Link to INC-{incident}"
LINK_HINT = "Looks like **INC-{incident}** ({why}): link it, and this customer hears its public updates."
UNLINK = "Unlink"
DECIDED = {
    "declared": "Declared as INC-{incident} by {who}",
    "merged": "Merged into INC-{incident} by {who}",
    "linked": "Linked to INC-{incident} by {who}",
    "dismissed": "Dismissed by {who}: {reason}",
}
AUTO_LINKED = "Linked to INC-{incident} automatically ({reason}). Not this incident? Unlink it."
REPORTED_BY = "Reported by {count} customer{s} (Freshdesk)"
ALL_RESOLVED = "All linked alerts have resolved. Resolve the incident?"
MAX_SHOWN_ALERTS = 4
MAX_DESCRIPTION = 1200


@dataclass(frozen=True)
class ReportView:
    report: Report
    priority: str  # suggested by triage
    open_incidents: list[tuple[int, str]] = field(default_factory=list)
    notice: str = ""
    is_error: bool = False
    form: dict[str, str] | None = None  # the Declare form as last submitted (after an error)
    match: Match | None = None  # the open incident this report is likely about
    unlinkable: bool = False  # linked or merged into an incident that is still open


def _header(view: ReportView) -> Json:
    report = view.report
    style, color = PRIORITY_STYLE.get(view.priority, ("default", "default"))
    suggested = SUGGESTED.format(priority=view.priority, impact=report.impact.value.capitalize(),
                                 urgency=report.urgency.value.capitalize())
    return container([
        text(REPORT_HEADING.format(ticket=report.ticket_id), weight="Bolder", color=color, size="Small"),
        text(plain(report.subject), size="Large", weight="Bolder"),
        text(suggested, spacing="None"),
    ], style=style, bleed=True)


def _details(report: Report) -> list[Json]:
    pairs = [("Requester", plain(report.requester_email) or "—"),
             ("Client", plain(report.client) or plain(report.company) or "—"),
             ("Ticket priority", plain(report.priority) or "—"),
             ("Service", plain(report.service) or "—"),
             ("Received", when(report.received_at))]
    if report.tags:
        pairs.append(("Tags", plain(", ".join(report.tags))[:200]))
    body = [facts(pairs)]
    if report.description:
        shown = report.description if len(report.description) <= MAX_DESCRIPTION else \
            report.description[:MAX_DESCRIPTION] + "…"
        body.append(text(plain(shown), subtle=True))
    if report.reasons:
        body.append(text("Why: " + plain("; ".join(report.reasons)), subtle=True, size="Small"))
    return body


def _decision(report: Report) -> list[Json]:
    if report.status == "new":
        return []
    who = plain(report.decided_by.name if report.decided_by else "") or "someone"
    automatic = report.status == "linked" and report.decided_by is not None and \
        report.decided_by.aad_object_id == SYSTEM_ACTOR
    line = (AUTO_LINKED if automatic else DECIDED[report.status]).format(
        incident=report.incident_id, who=who, reason=plain(report.reason))
    return [container([text(line, weight="Bolder"), text(f"Decided {when(report.decided_at)}", subtle=True,
                                                         spacing="None")], style="good")]


def _declare_inputs(view: ReportView, config: BeaconConfig) -> list[Json]:
    values = view.form or prefilled_form(view.report)
    inputs = [
        input_text("title", "Title", value=values.get("title", ""), required=True, max_length=MAX_TITLE),
        input_text("description", "Description", value=values.get("description", ""), multiline=True,
                   max_length=MAX_TEXT),
        choice_set("impact", "Impact", LEVEL_CHOICES, value=values.get("impact", "medium"), required=True),
        choice_set("urgency", "Urgency", LEVEL_CHOICES, value=values.get("urgency", "medium"), required=True),
    ]
    if config.services:
        inputs.append(choice_set("service", "Affected service", [(s.name, s.name) for s in config.services],
                                 value=values.get("service", "")))
    if config.directory.clients:
        clients = [("Internal (no client)", "")] + [(c.name, c.name) for c in config.directory.clients]
        inputs.append(choice_set("client", "Client", clients, value=values.get("client", "")))
    return inputs


def _actions(view: ReportView, config: BeaconConfig) -> list[Json]:
    report = view.report
    data = {"ticketId": str(report.ticket_id)}
    link = [open_url("Open ticket", report.url)] if report.url.startswith(("https://", "http://")) else []
    if report.status != "new":
        unlink = [execute(UNLINK, Verb.REPORT_UNLINK, data)] if view.unlinkable else []
        return unlink + link
    actions = []
    if view.match is not None:
        actions.append(execute(LINK.format(incident=view.match.incident_id), Verb.REPORT_LINK,
                               {**data, "incidentId": str(view.match.incident_id)}, style="positive"))
    actions += [show_card(DECLARE, _declare_inputs(view, config),
                         [execute(DECLARE, Verb.REPORT_DECLARE, data, style="positive", inputs="auto")])]
    if view.open_incidents:
        choices = [(label[:120], str(number)) for number, label in view.open_incidents]
        actions.append(show_card(MERGE, [choice_set("incidentId", "Open incident", choices,
                                                    value=choices[0][1], required=True)],
                                 [execute(MERGE, Verb.REPORT_MERGE, data, inputs="auto")]))
    actions.append(show_card(DISMISS, [input_text("reason", "Why is this not an incident?", required=True,
                                                  multiline=True, max_length=MAX_REASON)],
                             [execute(DISMISS, Verb.REPORT_DISMISS, data, style="destructive", inputs="auto")]))
    return actions + link


def reported_issue_card(view: ReportView, config: BeaconConfig) -> Json:
    body: list[Json] = []
    if view.notice:
        body.append(container([text(plain(view.notice), weight="Bolder",
                                    color="attention" if view.is_error else "accent")], style="emphasis"))
    body += [_header(view), *_details(view.report), *_decision(view.report)]
    if view.match is not None and view.report.status == "new":
        body.append(container([text(LINK_HINT.format(incident=view.match.incident_id, why=plain(view.match.why)))],
                              style="accent"))
    return card(body, _actions(view, config))


# -- the incident card's intake lines ----------------------------------------------------------

def incident_extras(summary: IntakeSummary, *, is_open: bool) -> ViewExtras:
    """Origin, each alert with its count, the tickets (with links) and the resolve suggestion."""
    pairs: list[tuple[str, str]] = []
    if summary.origin:
        pairs.append(("Origin", summary.origin))
    for alert in summary.alerts[:MAX_SHOWN_ALERTS]:
        pairs.append((short(f"Alert {alert.rule}", 60), f"{alert.status} · fired ×{alert.count} · {alert.service}"))
    hidden = summary.alerts[MAX_SHOWN_ALERTS:]
    if hidden:
        firing = sum(1 for a in hidden if a.status == "firing")
        pairs.append(("More alerts", f"{len(hidden)} more ({firing} firing)"))
    # Responders see tickets that exist or are on their way; a ticket Freshdesk could not take (or
    # that was never sent, Freshdesk not being set up) is a setup problem for incident admins.
    shown = [_ticket(t.ticket_id, t.role, t.state) for t in summary.tickets]
    if any(shown):
        pairs.append(("Freshdesk", ", ".join(s for s in shown if s)))
    reports = sum(1 for t in summary.tickets if t.role in CUSTOMER_ROLES and t.ticket_id is not None)
    links = tuple((f"Freshdesk #{t.ticket_id}", t.url) for t in summary.tickets
                  if t.ticket_id is not None and t.url.startswith(("https://", "http://")))[:2]
    notices = (REPORTED_BY.format(count=reports, s="" if reports == 1 else "s"),) if reports else ()
    notices += (ALL_RESOLVED,) if is_open and summary.all_alerts_resolved else ()
    problems = tuple(_ticket_problem(t.state, t.error) for t in summary.tickets
                     if t.ticket_id is None and t.state not in ("creating", ""))
    return ViewExtras(facts=tuple(pairs), links=links, notices=notices, problems=problems)


def _ticket(ticket_id: int | None, role: str, state: str) -> str:
    if ticket_id is not None:
        return f"#{ticket_id}" + ("" if role == "created" else f" ({role})")
    return "creating the ticket…" if state == "creating" else ""


def _ticket_problem(state: str, error: str) -> str:
    if state == "not_sent":
        return ("Freshdesk is not configured, so this incident has no ticket. Fix: set FRESHDESK_URL and "
                "FRESHDESK_API_KEY (README, “Freshdesk”) and check with `python app.py doctor`.")
    return (f"Freshdesk did not create a ticket: {short(error, 160) or 'no reason given'}. Fix: check the "
            "Freshdesk settings with `python app.py doctor`; the ticket is not retried on its own.")
