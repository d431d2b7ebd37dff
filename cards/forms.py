"""The declare form, as a card (Action.Execute) in chat or as a dialog (Action.Submit)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cards import strings
from cards.elements import (
    Json,
    card,
    choice_set,
    container,
    execute,
    input_date,
    input_text,
    input_time,
    people_picker,
    plain,
    submit,
    text,
    toggle,
)
from cards.incident import LEVEL_CHOICES
from services.config import BeaconConfig
from services.incidents.model import MAX_TEXT, MAX_TITLE
from services.verbs import Verb


@dataclass(frozen=True)
class SimilarOffer:
    """An open incident that looks like the one being declared, offered before a second is made."""

    incident_id: int
    label: str  # "INC-3"
    title: str
    service: str
    commander: str  # a name, or "" while nobody commands
    age: str  # "12 min", how long ago it was declared


@dataclass(frozen=True)
class DeclareForm:
    title: str = ""
    description: str = ""
    impact: str = "medium"
    urgency: str = "medium"
    service: str = ""
    client: str = ""
    commander: str = ""
    drill: bool = False
    impact_date: str = ""  # "impact started at", on the declarer's clock
    impact_time: str = ""
    error: str = ""
    similar: SimilarOffer | None = None

    @classmethod
    def from_values(cls, values: dict[str, object], error: str = "",
                    similar: SimilarOffer | None = None) -> DeclareForm:
        def get(key: str, default: str = "") -> str:
            return str(values.get(key) or default)[:MAX_TEXT]

        return cls(title=get("title"), description=get("description"), impact=get("impact", "medium"),
                   urgency=get("urgency", "medium"), service=get("service"), client=get("client"),
                   commander=get("commander"), error=error, similar=similar,
                   impact_date=_picker(get("impact_date"), _DATE), impact_time=_picker(get("impact_time"), _TIME),
                   drill=get("drill").lower() in ("true", "1", "yes", "on"))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")


def _picker(value: str, shape: re.Pattern[str]) -> str:
    """A picker value given back as typed, unless a picker could not show it."""
    return value if shape.match(value) else ""


def declare_form(form: DeclareForm, config: BeaconConfig, *, dialog: bool) -> Json:
    """Dialogs submit with Action.Submit (task/submit); cards in chat with Action.Execute."""
    body: list[Json] = [text(strings.DECLARE_FORM_TITLE, size="Medium", weight="Bolder")]
    if form.similar is not None:
        body.append(_similar_notice(form.similar))
    if form.error:
        body.append(text(plain(form.error), color="attention", weight="Bolder"))
    body += [
        input_text("title", "Title", value=form.title, required=True, max_length=MAX_TITLE,
                   placeholder="What is broken, for whom?"),
        input_text("description", "Description", value=form.description, multiline=True,
                   max_length=MAX_TEXT),
        choice_set("impact", "Impact", LEVEL_CHOICES, value=form.impact, required=True),
        choice_set("urgency", "Urgency", LEVEL_CHOICES, value=form.urgency, required=True),
    ]
    if config.services:
        services = [(s.name, s.name) for s in config.services]
        body.append(choice_set("service", "Affected service", services, value=form.service))
    else:
        body.append(input_text("service", "Affected service", value=form.service, max_length=200))
    if config.directory.clients:
        clients = [("Internal (no client)", "")] + [(c.name, c.name) for c in config.directory.clients]
        body.append(choice_set("client", "Client (for customer-specific incidents)", clients,
                               value=form.client))
    body += [text("Impact started at (optional: leave empty if it started when you declare)", size="Small",
                  subtle=True, spacing="Medium"),
             input_date("impact_date", "Date the impact started", value=form.impact_date),
             input_time("impact_time", "Time, on your clock", value=form.impact_time)]
    body.append(people_picker("commander", "Commander", dialog=dialog, value=form.commander))
    body.append(toggle("drill", "This is a drill (training: nothing leaves Teams)", form.drill))
    return card(body, _actions(form, dialog))


def _similar_notice(offer: SimilarOffer) -> Json:
    where = f"On {plain(offer.service)} · " if offer.service else ""
    lead = f"commander {plain(offer.commander)}" if offer.commander else "no commander yet"
    return container([
        text(strings.SIMILAR_OPEN.format(number=offer.label, title=plain(offer.title)), weight="Bolder"),
        text(f"{where}{lead} · declared {offer.age} ago", size="Small"),
        text(strings.SIMILAR_QUESTION.format(number=offer.label)),
    ], style="warning")


def _actions(form: DeclareForm, dialog: bool) -> list[Json]:
    """Declare; or, when a similar incident is open, joining it first and declaring anyway second."""
    def button(title: str, verb: Verb, data: Json, style: str | None) -> Json:
        if dialog:
            return submit(title, verb, data, style=style)
        return execute(title, verb, data, style=style, inputs="auto")

    if form.similar is None:
        return [button(strings.DECLARE, Verb.DECLARE_SUBMIT, {}, "positive")]
    return [button(strings.JOIN.format(number=form.similar.label), Verb.DECLARE_JOIN,
                   {"incidentId": form.similar.incident_id}, "positive"),
            button(strings.DECLARE_ANYWAY, Verb.DECLARE_SUBMIT, {"declareAnyway": True}, None)]
