"""Small cards: welcome, help, lists, confirmations and errors."""

from __future__ import annotations

from cards import strings
from cards.elements import Json, card, container, facts, open_dialog, plain, text
from cards.incident import incident_summary_line
from services.incidents import Incident
from services.verbs import Verb


def welcome_card() -> Json:
    return card([
        text(strings.WELCOME_TITLE, size="Large", weight="Bolder"),
        text(strings.WELCOME_TEXT),
    ], [open_dialog(strings.DECLARE, Verb.DECLARE_FORM)])


def help_card(intro: str = "") -> Json:
    body: list[Json] = []
    if intro:
        body.append(text(plain(intro)))
    body += [text(strings.HELP_TITLE, size="Medium", weight="Bolder"),
             facts([(f"@Beacon {command}", meaning) for command, meaning in strings.HELP_LINES])]
    return card(body, [open_dialog(strings.DECLARE, Verb.DECLARE_FORM)])


def incident_list_card(incidents: list[Incident]) -> Json:
    if not incidents:
        return card([text(strings.NO_OPEN_INCIDENTS)])
    lines = [text(incident_summary_line(i), spacing="Small") for i in incidents]
    return card([text(strings.OPEN_INCIDENTS, size="Medium", weight="Bolder"), *lines])


def declared_card(incident: Incident) -> Json:
    return card([text(strings.DECLARED.format(number=incident.number, title=plain(incident.title)),
                      weight="Bolder", color="good")])


def error_card(message: str, *, title: str = strings.ERROR_TITLE) -> Json:
    return card([container([text(title, weight="Bolder", color="attention"), text(plain(message))],
                           style="attention")])


def notice_card(message: str) -> Json:
    return card([text(plain(message))])
