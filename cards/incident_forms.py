"""The incident card's forms (post update, change status, add note, assign, re-assess, resolve),
each in a Teams dialog: the card itself carries no inputs, since forms with inputs on a card
submitted by Action.Execute misbehave on Teams' mobile clients.

A dialog is opened by an Action.Submit on the card (`msteams: {type: "task/fetch"}`), submits with
Action.Submit (task/submit), and is shown again after a mistake with every value as typed and each
field's problem right beneath it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cards.elements import Json, card, choice_set, input_text, people_picker, plain, submit, text
from cards.updates import AUDIENCE_CHOICES
from services.incidents import Incident
from services.incidents.model import MAX_TEXT
from services.verbs import Verb

LEVEL_CHOICES = [("High", "high"), ("Medium", "medium"), ("Low", "low")]
# verb: (the button on the card and the dialog's title, the submit button's title)
FORM_TITLES: dict[Verb, tuple[str, str]] = {
    Verb.POST_UPDATE: ("Post update", "Post update"),
    Verb.STATUS: ("Change status", "Change status"),
    Verb.NOTE: ("Add note", "Add note"),
    Verb.ASSIGN: ("Assign", "Assign responders"),
    Verb.REASSESS: ("Re-assess", "Re-assess priority"),
    Verb.RESOLVE: ("Resolve", "Resolve incident"),
}
FORM_VERBS = frozenset(FORM_TITLES)
# Resolving is what the response works towards: its buttons (on the card and in the dialog) stand out.
FORM_STYLES: dict[Verb, str] = {Verb.RESOLVE: "positive"}
# The inputs each form sends, as Beacon reads them back.
FORM_FIELDS: dict[Verb, tuple[str, ...]] = {
    Verb.POST_UPDATE: ("audience", "update"), Verb.STATUS: ("status",), Verb.NOTE: ("note",),
    Verb.ASSIGN: ("responders",), Verb.REASSESS: ("impact", "urgency"), Verb.RESOLVE: ("summary",),
}


@dataclass(frozen=True)
class IncidentFormView:
    verb: Verb
    incident: Incident
    values: Mapping[str, str] = field(default_factory=dict)  # as typed; empty: the form's defaults
    problems: Mapping[str, str] = field(default_factory=dict)  # field id: what is wrong with it
    error: str = ""  # a problem with the whole form (the incident changed meanwhile, …)
    version: int | None = None  # the incident version the clicked card showed
    dialog_id: str = ""  # one per opened dialog: a repeated submit of it is applied once
    people: list[tuple[str, str]] = field(default_factory=list)  # (name, Entra id) already chosen


def form_data(view: IncidentFormView) -> Json:
    """The data the dialog's submit button carries back, besides the inputs."""
    data: Json = {"incidentId": view.incident.id, "dialogId": view.dialog_id}
    if view.version is not None:
        data["version"] = view.version
    return data


def _problem(view: IncidentFormView, key: str) -> list[Json]:
    message = view.problems.get(key)
    return [text(plain(message), color="attention", size="Small", spacing="None")] if message else []


def _inputs(view: IncidentFormView) -> list[Json]:
    incident, values = view.incident, view.values
    verb = view.verb
    if verb is Verb.POST_UPDATE:
        return [choice_set("audience", "Audience", AUDIENCE_CHOICES, value=values.get("audience") or "responders"),
                *_problem(view, "audience"),
                input_text("update", "Update", value=values.get("update", ""), multiline=True, max_length=MAX_TEXT),
                *_problem(view, "update")]
    if verb is Verb.STATUS:
        statuses = [(s.value.capitalize(), s.value) for s in incident.allowed_next()]
        chosen = values.get("status") or (statuses[0][1] if statuses else "")
        return [choice_set("status", "New status", statuses, value=chosen), *_problem(view, "status")]
    if verb is Verb.NOTE:
        return [input_text("note", "Note", value=values.get("note", ""), multiline=True, max_length=MAX_TEXT),
                *_problem(view, "note")]
    if verb is Verb.ASSIGN:
        return [people_picker("responders", "Responders", dialog=True, multi=True,
                              value=values.get("responders", ""), known=view.people),
                *_problem(view, "responders")]
    if verb is Verb.REASSESS:
        return [choice_set("impact", "Impact", LEVEL_CHOICES, value=values.get("impact") or incident.impact.value),
                *_problem(view, "impact"),
                choice_set("urgency", "Urgency", LEVEL_CHOICES, value=values.get("urgency") or incident.urgency.value),
                *_problem(view, "urgency")]
    return [input_text("summary", "What fixed it?", value=values.get("summary", ""), multiline=True,
                       max_length=MAX_TEXT), *_problem(view, "summary")]


def incident_form(view: IncidentFormView) -> Json:
    """Required fields are checked by Beacon, so each problem is named beside its field and the
    form comes back with everything typed."""
    title, button = FORM_TITLES[view.verb]
    body: list[Json] = [text(f"{title}: {view.incident.label}", size="Medium", weight="Bolder"),
                        text(plain(view.incident.title), subtle=True, spacing="None")]
    if view.error:
        body.append(text(plain(view.error), color="attention", weight="Bolder"))
    elif view.problems:
        body.append(text("Check the field marked below; everything you typed is kept.", color="attention",
                         weight="Bolder"))
    body += _inputs(view)
    return card(body, [submit(button, view.verb, form_data(view), style=FORM_STYLES.get(view.verb))])
