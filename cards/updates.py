"""Cards of the communication plan: the update reminder, status updates and notices."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from cards.budget import fits
from cards.elements import (
    Json,
    card,
    choice_set,
    container,
    execute,
    input_text,
    mention,
    plain,
    short,
    text,
    when,
)
from services.comms.messages import RESOLUTION, RESPONDERS, Message, byline, rows
from services.incidents.model import MAX_TEXT
from services.verbs import Verb

AUDIENCE_CHOICES = [("Responders (incident thread)", "responders"),
                    ("Stakeholders (channel and email)", "stakeholders")]


def _who(name: str, person_id: str, mentions: list[Json]) -> str:
    if not person_id:
        return plain(name)
    label, entity = mention(name, person_id)
    mentions.append(entity)
    return label


def post_update_inputs(*, audience: str = "responders", prefill: str = "") -> list[Json]:
    return [choice_set("audience", "Audience", AUDIENCE_CHOICES, value=audience, required=True),
            input_text("update", "Update", value=prefill, required=True, multiline=True,
                       max_length=MAX_TEXT)]


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def reminder_card(incident_number: str, incident_id: int, payload: dict[str, Any], next_due: Any) -> Json:
    """@mentions the owner with a Post update form prefilled from the timeline, and says when the
    update is due and when Beacon posts it by itself (each reader sees their own time zone).
    `next_due` stands in for reminders queued before they carried their due time."""
    mentions: list[Json] = []
    who = _who(str(payload.get("owner_name") or "owner"), str(payload.get("owner_id") or ""), mentions)
    audience = str(payload.get("audience") or "responders")
    late = " (overdue: Beacon was not running when it fell due)" if payload.get("late") else ""
    due, posts = _moment(payload.get("due_at")) or next_due, _moment(payload.get("posts_at"))
    deadline = (f"If nobody posts it by {when(posts)}, Beacon posts it automatically." if posts else
                "If nobody posts it within the grace period, Beacon posts it automatically.")
    body = [
        text(f"{who}, the {audience} update for {incident_number} is due{late}.", weight="Bolder", wrap=True),
        text(f"Due: {when(due)}", subtle=True),
        text(f"Check the draft below, then post it. {deadline}", subtle=True),
        *post_update_inputs(audience=audience, prefill=str(payload.get("text") or "")),
    ]
    data = {"incidentId": incident_id, "version": payload.get("version")}
    return card(body, [execute("Post update", Verb.POST_UPDATE, data, style="positive", inputs="auto")],
                mentions=mentions)


def status_update_card(incident_number: str, payload: dict[str, Any], commander: tuple[str, str] | None,
                       next_due: Any) -> Json:
    mentions: list[Json] = []
    audience = str(payload.get("audience") or "responders")
    number = f" #{payload['sequence']}" if payload.get("sequence") else ""
    if payload.get("automatic"):
        heading = f"Automatic {audience} update{number} for {incident_number}"
        if payload.get("late"):
            heading += " (late)"
        byline = "The owner did not post it in time."
        if commander and commander[1]:
            byline += f" {_who(commander[0], commander[1], mentions)}, please check it as backup."
    else:
        heading = f"{audience.capitalize()} update{number} for {incident_number}"
        byline = f"Posted by {plain(payload.get('author') or 'a responder')}."
    body = [container([text(heading, weight="Bolder"), text(plain(payload.get("text") or ""))],
                      style="emphasis"),
            text(byline, subtle=True), text(f"Next update due: {when(next_due)}", subtle=True)]
    return card(body, mentions=mentions)


def message_card(message: Message) -> Json:
    """One audience's message (comms.messages) as a card: its heading, then what is affected, for
    whom and since when, what is being done, the next update and whom to ask, each reader seeing
    times on their own clock. What people wrote is shown as plain text, cut (saying so) until the
    card fits one Teams message, however much of it is escaped on the wire."""
    for limit in (MAX_TEXT, 1500, 500, 160):
        built = _message_card(replace(message, title=short(message.title, limit), doing=short(message.doing, limit)))
        if fits(built):
            break
    return built


def _message_card(message: Message) -> Json:
    style = "good" if message.kind == RESOLUTION else "emphasis"
    if message.audience == RESPONDERS and message.kind != RESOLUTION and message.priority in ("P1", "P2"):
        style = "attention"
    heading = text(plain(f"{message.reference} · {message.heading}"), weight="Bolder", size="Medium")
    body = [container([heading], style=style),
            *(text(f"**{label}:** {value}", wrap=True) for label, value in rows(message, when, plain))]
    if by := byline(message):
        body.append(text(plain(by), subtle=True, size="Small"))
    return card(body)


def notice_card(heading: str, message: str, *, style: str = "good") -> Json:
    """`heading` and `message` are shown as given: both may hold outside text."""
    return card([container([text(plain(heading), weight="Bolder"), text(plain(message))], style=style)])
