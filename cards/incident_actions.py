"""The incident card's buttons: one primary action that fits where the incident stands, and
"More…" holding the rest, one per row so nothing is cut off at phone width. Forms open in a
dialog.

The primary action follows the response: Acknowledge → Take command → Post update → Resolve
(once a fix is being verified or monitored). The card a person sees for themselves (an answer to
their click, or Teams refreshing it for them) never offers the commander "Take command".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cards.elements import Json, action_set, execute, open_dialog, open_url, show_card
from cards.incident_forms import FORM_STYLES, FORM_TITLES, LEVEL_CHOICES
from services.incidents import Incident, Person, Status
from services.verbs import Verb

__all__ = ["LEVEL_CHOICES", "MORE", "actions", "primary_verb"]
MORE = "More…"
NEAR_RESOLVED = frozenset({Status.VERIFYING, Status.MONITORING})


class Extras(Protocol):
    @property
    def links(self) -> tuple[tuple[str, str], ...]: ...

    @property
    def buttons(self) -> tuple[tuple[str, Verb], ...]: ...


def _data(incident: Incident) -> Json:
    return {"incidentId": incident.id, "version": incident.version}


def _forms(incident: Incident) -> dict[Verb, Json]:
    """Each form opens in a dialog (task/fetch): the card itself holds no inputs, which Teams'
    mobile clients handle badly when a card submits them with Action.Execute."""
    data = _data(incident)
    return {verb: open_dialog(title, verb, data, style=FORM_STYLES.get(verb))
            for verb, (title, _) in FORM_TITLES.items()}


def primary_verb(incident: Incident, viewer: Person | None = None) -> Verb | None:
    """The one thing the incident needs next."""
    if incident.status is Status.CLOSED:
        return None
    if incident.status is Status.RESOLVED:
        return Verb.CLOSE
    if incident.acknowledged_at is None:
        return Verb.ACKNOWLEDGE
    if incident.commander is None:
        return Verb.TAKE_COMMAND
    return Verb.RESOLVE if incident.status in NEAR_RESOLVED else Verb.POST_UPDATE


def _is_commander(incident: Incident, viewer: Person | None) -> bool:
    return bool(viewer and incident.commander and incident.commander.aad_object_id == viewer.aad_object_id)


def _open_actions(incident: Incident, viewer: Person | None, extras: Extras) -> list[tuple[Verb | None, Json]]:
    """Every action of an open incident, in the order "More…" lists them."""
    data, forms = _data(incident), _forms(incident)
    found: list[tuple[Verb | None, Json]] = []
    if incident.acknowledged_at is None:
        found.append((Verb.ACKNOWLEDGE, execute("Acknowledge", Verb.ACKNOWLEDGE, data, style="positive")))
    if not _is_commander(incident, viewer):
        found.append((Verb.TAKE_COMMAND, execute("Take command", Verb.TAKE_COMMAND, data)))
    found += [(verb, forms[verb]) for verb in (Verb.POST_UPDATE, Verb.STATUS, Verb.NOTE, Verb.ASSIGN,
                                               Verb.REASSESS, Verb.RESOLVE)]
    found += [(verb, execute(title, verb, data)) for title, verb in extras.buttons]
    return found


def _links(extras: Extras) -> list[tuple[Verb | None, Json]]:
    return [(None, open_url(title, url)) for title, url in extras.links]


def actions(incident: Incident, viewer: Person | None, extras: Extras) -> list[Json]:
    """The primary button and "More…", as body elements."""
    data = _data(incident)
    if incident.status is Status.CLOSED:
        everything = _links(extras)
    elif incident.status is Status.RESOLVED:
        everything = [(Verb.CLOSE, execute("Close", Verb.CLOSE, data, style="positive")),
                      (Verb.REOPEN, execute("Reopen", Verb.REOPEN, data)), *_links(extras)]
    else:
        everything = _open_actions(incident, viewer, extras) + _links(extras)
    primary = primary_verb(incident, viewer)
    first = [action for verb, action in everything if verb is not None and verb is primary][:1]
    rest = [action for verb, action in everything if verb is None or verb is not primary]
    row = [*first, show_card(MORE, _one_per_row(rest), [])] if rest else first
    return [action_set(row)] if row else []


def _one_per_row(items: Sequence[Json]) -> list[Json]:
    """Each action on a row of its own: a phone shows every title in full, and a form opens right
    under its button."""
    return [action_set([item]) for item in items]
