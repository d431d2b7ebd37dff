"""The incident card: a pure function of the incident and what the reader should be told."""

from __future__ import annotations

from dataclasses import dataclass, field

from cards.elements import (
    Json,
    action_set,
    card,
    choice_set,
    container,
    execute,
    facts,
    input_text,
    mention,
    open_url,
    people_picker,
    plain,
    show_card,
    text,
    when,
)
from cards.updates import post_update_inputs
from services.incidents import Incident, Person, Status
from services.incidents.model import ACK_VIA, MAX_TEXT
from services.verbs import Verb

PRIORITY_STYLE = {"P1": ("attention", "attention"), "P2": ("warning", "warning"),
                  "P3": ("accent", "accent"), "P4": ("good", "good"), "P5": ("default", "default")}
LEVEL_CHOICES = [("High", "high"), ("Medium", "medium"), ("Low", "low")]


@dataclass(frozen=True)
class ViewExtras:
    """What integrations add to the incident card (bridge, ticket, alerts), as data."""

    facts: tuple[tuple[str, str], ...] = ()  # extra rows in the fact set
    links: tuple[tuple[str, str], ...] = ()  # (title, url) buttons that open a page
    buttons: tuple[tuple[str, Verb], ...] = ()  # Action.Execute buttons in the quick row
    notices: tuple[str, ...] = ()  # lines shown under the header, e.g. "all alerts resolved"

    def __add__(self, other: ViewExtras) -> ViewExtras:
        return ViewExtras(self.facts + other.facts, self.links + other.links, self.buttons + other.buttons,
                          self.notices + other.notices)


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    people: dict[str, Person] = field(default_factory=dict)  # names learned after the fact
    notice: str = ""
    notice_lines: tuple[str, ...] = ()
    is_error: bool = False
    extras: ViewExtras = ViewExtras()


def _named(person: Person, people: dict[str, Person]) -> Person:
    known = people.get(person.aad_object_id)
    if known and known.name:
        return Person(person.aad_object_id, known.name, known.user_id or person.user_id)
    return person


def _who(person: Person | None, view: IncidentView, mentions: list[Json]) -> str:
    if person is None:
        return "—"
    person = _named(person, view.people)
    if not person.name:
        return "a person Beacon has not seen yet"
    label, entity = mention(person.name, person.user_id or person.aad_object_id)
    mentions.append(entity)
    return label


def _header(incident: Incident) -> Json:
    style, color = PRIORITY_STYLE.get(incident.priority, ("default", "default"))
    return container([
        text(f"{incident.priority} · {incident.label}", weight="Bolder", color=color, size="Small"),
        text(plain(incident.title), size="Large", weight="Bolder"),
        text(f"Status: **{incident.status.value.capitalize()}**", spacing="None"),
    ], style=style, bleed=True)


def _details(view: IncidentView, mentions: list[Json]) -> list[Json]:
    incident = view.incident
    responders = ", ".join(_who(p, view, mentions) for p in incident.responders) or "—"
    pairs = [
        ("Impact × urgency", f"{incident.impact.value.capitalize()} × {incident.urgency.value.capitalize()}"),
        ("Service", plain(incident.service) or "—"),
        ("Client", plain(incident.client) or "internal"),
        ("Commander", _who(incident.commander, view, mentions)),
        ("Responders", responders),
        ("Declared", f"{when(incident.declared_at)} by {plain(incident.declared_by.name) or 'someone'}"),
        ("Last update", when(incident.last_update_at)),
    ]
    if incident.is_open:
        pairs.append(("Next update due", when(incident.next_update_due)))
    if incident.acknowledged_at:
        pairs.append(("Acknowledged", _acknowledged(incident)))
    if incident.resolved_at:
        pairs.append(("Resolved", when(incident.resolved_at)))
    pairs += [(plain(k), plain(v)) for k, v in view.extras.facts]
    body = [facts(pairs)]
    body += [text(plain(line), color="accent", weight="Bolder") for line in view.extras.notices]
    if incident.description:
        body.insert(0, text(plain(incident.description), subtle=True))
    if incident.resolution_summary:
        body.append(text(f"**Resolution:** {plain(incident.resolution_summary)}"))
    return body


def _acknowledged(incident: Incident) -> str:
    """"by Ada Lovelace (SMS link) 03:04": who answered, how, and when."""
    who = plain(incident.acknowledged_by.name) if incident.acknowledged_by else ""
    how = ACK_VIA.get(incident.acknowledged_via, "")
    by = f"by {who or 'someone'}" + (f" ({how})" if how else "")
    return f"{by} {when(incident.acknowledged_at)}"


def _notice(view: IncidentView) -> list[Json]:
    if not view.notice:
        return []
    items = [text(plain(view.notice), weight="Bolder", color="attention" if view.is_error else "accent")]
    items += [text(f"• {plain(line)}", spacing="None", subtle=True) for line in view.notice_lines[:8]]
    return [container(items, style="emphasis")]


def _actions(incident: Incident, extras: ViewExtras) -> tuple[list[Json], list[Json]]:
    """Quick buttons (in the body) and the forms behind the card's action bar."""
    data = {"incidentId": incident.id, "version": incident.version}
    links = [open_url(title, url) for title, url in extras.links]
    if incident.status is Status.CLOSED:
        return links, []
    if incident.status is Status.RESOLVED:
        return links, [execute("Reopen", Verb.REOPEN, data), execute("Close", Verb.CLOSE, data)]
    quick = []
    if incident.acknowledged_at is None:
        quick.append(execute("Acknowledge", Verb.ACKNOWLEDGE, data, style="positive"))
    quick.append(execute("Take command", Verb.TAKE_COMMAND, data))
    quick += [execute(title, verb, data) for title, verb in extras.buttons] + links
    statuses = [(s.value.capitalize(), s.value) for s in incident.allowed_next()]
    forms = [
        show_card("Change status", [choice_set("status", "New status", statuses,
                                               value=statuses[0][1] if statuses else "", required=True)],
                  [execute("Change status", Verb.STATUS, data, inputs="auto")]),
        show_card("Re-assess", [
            choice_set("impact", "Impact", LEVEL_CHOICES, value=incident.impact.value, required=True),
            choice_set("urgency", "Urgency", LEVEL_CHOICES, value=incident.urgency.value, required=True),
        ], [execute("Re-assess priority", Verb.REASSESS, data, inputs="auto")]),
        show_card("Assign", [people_picker("responders", "Responders", multi=True)],
                  [execute("Assign responders", Verb.ASSIGN, data, inputs="auto")]),
        show_card("Add note", [input_text("note", "Note", required=True, multiline=True,
                                          max_length=MAX_TEXT)],
                  [execute("Add note", Verb.NOTE, data, inputs="auto")]),
        show_card("Post update", post_update_inputs(),
                  [execute("Post update", Verb.POST_UPDATE, data, inputs="auto")]),
        show_card("Resolve", [input_text("summary", "What fixed it?", required=True, multiline=True,
                                         max_length=MAX_TEXT)],
                  [execute("Resolve incident", Verb.RESOLVE, data, style="positive", inputs="auto")]),
    ]
    return quick, forms


def incident_card(view: IncidentView) -> Json:
    mentions: list[Json] = []
    incident = view.incident
    body = [*_notice(view), _header(incident), *_details(view, mentions)]
    quick, forms = _actions(incident, view.extras)
    if quick:
        body.append(action_set(quick))
    return card(body, forms, mentions=mentions)


def incident_summary_line(incident: Incident) -> str:
    return f"**{incident.label}** {incident.priority} · {incident.status.value} · {plain(incident.title)}"

