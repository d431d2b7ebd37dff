"""The incident card: a pure function of the incident and what its reader should be told.

It answers, top to bottom, what a responder at 03:00 asks: how bad (the severity badge), where it
stands (status), how long the impact has lasted, who is on it (commander, who acknowledged), what
was said last, and what to do next (one primary button; the rest under "More…"). Everything
else sits under "Details". Integrations that are not set up say nothing to responders: their
problems, with the fix, are shown only on an incident admin's own view of the card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from cards.budget import fits
from cards.elements import Json, card, container, plain, short, text
from cards.incident_actions import LEVEL_CHOICES, actions
from cards.incident_parts import (
    PRIORITY_STYLE,
    LatestUpdate,
    admin_problems,
    details,
    header,
    key_facts,
)
from services.incidents import Incident, Person
from services.verbs import Verb

__all__ = ["LEVEL_CHOICES", "PRIORITY_STYLE", "IncidentView", "LatestUpdate", "ViewExtras", "incident_card",
           "incident_summary_line"]
MAX_REFRESH_USERS = 60  # Teams refreshes a card automatically for at most 60 listed users


@dataclass(frozen=True)
class ViewExtras:
    """What integrations add to the incident card (bridge, ticket, alerts), as data."""

    facts: tuple[tuple[str, str], ...] = ()  # extra rows under "Details"
    links: tuple[tuple[str, str], ...] = ()  # (title, url) buttons that open a page, under "More…"
    buttons: tuple[tuple[str, Verb], ...] = ()  # Action.Execute buttons under "More…"
    notices: tuple[str, ...] = ()  # lines shown under the header, e.g. "all alerts resolved"
    problems: tuple[str, ...] = ()  # setup problems with their fix: incident admins only

    def __add__(self, other: ViewExtras) -> ViewExtras:
        return ViewExtras(self.facts + other.facts, self.links + other.links, self.buttons + other.buttons,
                          self.notices + other.notices, self.problems + other.problems)


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    people: dict[str, Person] = field(default_factory=dict)  # names learned after the fact
    notice: str = ""
    notice_lines: tuple[str, ...] = ()
    is_error: bool = False
    extras: ViewExtras = ViewExtras()
    latest_update: LatestUpdate | None = None
    now: datetime | None = None  # when the card is drawn (durations); None: the last change
    viewer: Person | None = None  # whose own view this is; None: the card everyone sees
    viewer_is_admin: bool = False
    refresh_for: tuple[str, ...] = ()  # Teams ids whose view Teams should refresh for them
    # Further notices under the first, each a heading and its lines (a stakeholder update's routes
    # first, then what changed since the poster's card).
    more_notices: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _notice(view: IncidentView) -> list[Json]:
    if not view.notice:
        return []
    items: list[Json] = []
    for heading, lines in ((view.notice, view.notice_lines), *view.more_notices):
        items.append(text(plain(heading), weight="Bolder", color="attention" if view.is_error else "accent"))
        items += [text(f"• {plain(line)}", spacing="None", subtle=True) for line in lines[:8]]
    return [container(items, style="emphasis")]


def _drawn_at(view: IncidentView) -> datetime:
    incident = view.incident
    if view.now is not None:
        return view.now
    moments = [m for m in (incident.declared_at, incident.last_update_at, incident.acknowledged_at,
                           incident.resolved_at) if m is not None]
    return max(moments) if moments else datetime.now(UTC)


def _build(view: IncidentView, *, max_text: int, max_responders: int, with_details: bool) -> Json:
    mentions: list[Json] = []
    incident, now = view.incident, _drawn_at(view)
    if len(incident.description) > max_text or len(incident.resolution_summary) > max_text:
        incident = incident.copy()
        incident.description = short(incident.description, max_text)
        incident.resolution_summary = short(incident.resolution_summary, max_text)
    body = [*_notice(view), header(incident, now), key_facts(incident, view.people, view.latest_update, now, mentions)]
    body += [text(plain(line), color="accent", weight="Bolder") for line in view.extras.notices]
    body += actions(incident, view.viewer, view.extras)
    if with_details:
        body += details(incident, view.people, view.extras.facts, now, mentions, max_responders=max_responders)
    if view.viewer_is_admin:
        body += admin_problems(view.extras.problems)
    result = card(body, mentions=mentions)
    if view.refresh_for and incident.is_open:
        result["refresh"] = {"action": {"type": "Action.Execute", "verb": Verb.REFRESH.value,
                                        "data": {"incidentId": incident.id}},
                             "userIds": list(dict.fromkeys(view.refresh_for))[:MAX_REFRESH_USERS]}
    return result


def incident_card(view: IncidentView) -> Json:
    """The card, kept under Teams' message size: long texts and lists are cut step by step, and
    the details go last, so the header, the key facts and the buttons always arrive."""
    for max_text, max_responders, with_details in ((4000, 25, True), (600, 10, True), (200, 5, True),
                                                   (0, 0, False)):
        built = _build(view, max_text=max_text, max_responders=max_responders, with_details=with_details)
        if fits(built):
            return built
    return built


def incident_summary_line(incident: Incident) -> str:
    return f"**{incident.label}** {incident.priority} · {incident.status.value} · {plain(incident.title)}"
