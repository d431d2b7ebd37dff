"""Cards of the review: the report request, its summary, reminders, follow-up actions, metrics."""

from __future__ import annotations

from datetime import datetime

from cards.elements import (
    Json,
    action_set,
    card,
    container,
    execute,
    facts,
    mention,
    open_dialog,
    open_url,
    plain,
    text,
    toggle,
    when,
)
from services.verbs import Verb


def _who(name: str, person_id: str, mentions: list[Json]) -> str:
    if not person_id:
        return plain(name)
    label, entity = mention(name or "owner", person_id)
    mentions.append(entity)
    return label


def report_request_card(label: str, incident_id: int, owner_name: str, owner_id: str, role: str, *,
                        title: str = "", reminder: int = 0) -> Json:
    """The request in the incident thread. The form itself opens in a dialog: there the people
    picker searches the whole directory and mobile clients keep what was typed."""
    mentions: list[Json] = []
    who = _who(owner_name, owner_id, mentions) if owner_name or owner_id else ""
    if reminder:
        heading = f"Reminder {reminder}: the post-incident report for {label} is not complete yet."
    else:
        heading = f"The post-incident report for {label} is ready to write."
    body: list[Json] = [text(heading, weight="Bolder")]
    if title:
        body.append(text(plain(title), subtle=True, spacing="None"))
    if who:
        body.append(text(f"Requested from {who}" + (f" ({plain(role)})" if role else "") + "."))
    body.append(text("Beacon builds the report from the timeline; the form asks only for what people know: "
                     "the root cause, lessons learned and corrective actions.", subtle=True))
    return card(body, [open_dialog("Write the report", Verb.REVIEW_REPORT_FORM, {"incidentId": incident_id})],
                mentions=mentions)


def report_summary_card(label: str, title: str, incident_id: int, link: str, *, notice: str = "",
                        review_start: datetime | None = None, held: bool = False, problem: bool = False) -> Json:
    body: list[Json] = []
    if notice:
        body.append(text(plain(notice), color="attention" if problem else "good"))
    body += [container([text(f"Post-incident report: {label}", weight="Bolder"), text(plain(title))],
                       style="emphasis"),
             facts([("Review", "held" if held else when(review_start) if review_start else "not scheduled")])]
    actions = [open_url("Open the report", link)]
    if not held:
        actions.append(execute("Review held", Verb.REVIEW_HELD, {"incidentId": incident_id}))
    if review_start is None:
        body += [{"type": "Input.Date", "id": "review_date", "label": "Review date (optional)"},
                 toggle("include_client", "Invite the client")]
        actions.insert(1, execute("Schedule review", Verb.REVIEW_SCHEDULE, {"incidentId": incident_id},
                                  inputs="auto"))
    return card(body, actions)


def action_reminder_card(label: str, action_id: int, title: str, owner_name: str, owner_id: str,
                         due_at: datetime, overdue: bool) -> Json:
    mentions: list[Json] = []
    who = _who(owner_name, owner_id, mentions)
    word = "is overdue" if overdue else "is due"
    return card([text(f"{who}, follow-up action of {label} {word}: {plain(title)}", weight="Bolder",
                      color="attention" if overdue else None),
                 text(f"Due {when(due_at)}", subtle=True)],
                [execute("Complete", Verb.REVIEW_ACTION_COMPLETE, {"actionId": action_id}, style="positive")],
                mentions=mentions)


def actions_card(lines: list[tuple[int, str, str, str, datetime, bool]], notice: str = "") -> Json:
    """(action id, incident label, title, owner, due, overdue) of each open action."""
    body: list[Json] = [text(plain(notice), color="good")] if notice else []
    body.append(text("Open follow-up actions", size="Medium", weight="Bolder"))
    if not lines:
        body.append(text("No open follow-up actions."))
    for action_id, label, title, owner, due, overdue in lines:
        late = " · overdue" if overdue else ""
        body.append(container([
            text(f"{label}: {plain(title)}", weight="Bolder"),
            text(f"Owner {plain(owner) or '—'} · due {when(due)}{late}", subtle=True),
            action_set([execute("Complete", Verb.REVIEW_ACTION_COMPLETE, {"actionId": action_id})])]))
    return card(body)


def metrics_card(chart_png_b64: str, rows: list[tuple[str, str]]) -> Json:
    return card([text("Response metrics, incidents of the last 90 days (drills excluded)", size="Medium",
                      weight="Bolder"),
                 {"type": "Image", "url": f"data:image/png;base64,{chart_png_b64}",
                  "altText": "Mean time to acknowledge, mitigate and resolve per priority"},
                 facts(rows)])


def drill_report_card(label: str, title: str, facts_rows: list[tuple[str, str]], link: str) -> Json:
    return card([container([text(f"Drill report: {label}", weight="Bolder"), text(plain(title))],
                           style="accent"), facts(facts_rows)], [open_url("Open the drill report", link)])
