"""Small cards: welcome, help, lists, confirmations and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cards import strings
from cards.budget import fits
from cards.elements import Json, action_set, card, container, facts, open_dialog, open_url, plain, short, text
from cards.incident_parts import PRIORITY_STYLE, span, stamp
from services.incidents import Incident
from services.verbs import Verb

MAX_LISTED = 25  # open incidents on the list card; more is said in one line


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


@dataclass(frozen=True)
class ListedIncident:
    """One open incident as `@Beacon list` shows it."""

    incident: Incident
    commander: str  # a name, or "" while nobody commands
    thread_url: str  # "" until its thread is posted
    last_update_at: datetime | None = None  # the latest status update, if one was posted
    last_update: str = ""


def incident_list_card(listed: list[ListedIncident], now: datetime) -> Json:
    """Each open incident: how bad, what, who commands, how old, the last update and its thread."""
    if not listed:
        return card([text(strings.NO_OPEN_INCIDENTS)])
    shown = listed[:MAX_LISTED]
    while True:
        body = [text(f"{strings.OPEN_INCIDENTS} ({len(listed)})", size="Medium", weight="Bolder"),
                *(_listed(item, now) for item in shown)]
        if len(shown) < len(listed):
            body.append(text(strings.MORE_OPEN.format(count=len(listed) - len(shown)), size="Small", subtle=True))
        result = card(body)
        if fits(result) or len(shown) == 1:
            return result
        shown = shown[:-1]


def _listed(item: ListedIncident, now: datetime) -> Json:
    incident = item.incident
    color = PRIORITY_STYLE.get(incident.priority, ("default", "default"))[1]
    lead = f"Commander {plain(item.commander)}" if item.commander else "No commander yet"
    items: list[Json] = [
        text(f"**{incident.priority} · {incident.label}** · {incident.status.value.capitalize()} · "
             f"{plain(incident.title)}", color=color),
        text(f"{lead} · declared {span(now - incident.declared_at)} ago", size="Small", spacing="None"),
    ]
    if item.last_update_at is not None:
        items.append(text(f"Last update {stamp(item.last_update_at, now)}: {plain(short(item.last_update, 160))}",
                          size="Small", subtle=True, spacing="None"))
    else:
        items.append(text("No status update yet", size="Small", subtle=True, spacing="None"))
    if item.thread_url:
        items.append(action_set([open_url(strings.OPEN_THREAD_OF.format(number=incident.label), item.thread_url)]))
    return container(items, separator=True)


def declared_card(what: str, thread_url: str = "") -> Json:
    """What a used declare form became ("Declared as INC-4 by …"), for everyone who sees it."""
    body = [text(plain(what), weight="Bolder", color="good"), text(strings.CARD_IN_THREAD, size="Small")]
    return card(body, [open_url(strings.OPEN_THREAD, thread_url)] if thread_url else None)


def error_card(message: str, *, title: str = strings.ERROR_TITLE) -> Json:
    return card([container([text(title, weight="Bolder", color="attention"), text(plain(message))],
                           style="attention")])


def notice_card(message: str) -> Json:
    return card([text(plain(message))])
