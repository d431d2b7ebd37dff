"""The parts of the incident card a responder reads first, and the details behind "Details".

Times use one compact style (`stamp`): the time alone when it is within a day of when the card
was drawn, else a short date and the time; Teams shows both in the reader's own time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cards.elements import (
    Json,
    card_time,
    column,
    column_set,
    container,
    facts,
    mention,
    plain,
    short,
    text,
    toggle_action,
)
from services.durations import span
from services.incidents import Incident, Person
from services.incidents.model import ACK_VIA

ContainerStyle = Literal["default", "emphasis", "good", "attention", "warning", "accent"]
TextColor = Literal["default", "dark", "light", "accent", "good", "warning", "attention"]
PRIORITY_STYLE: dict[str, tuple[ContainerStyle, TextColor]] = {
    "P1": ("attention", "attention"), "P2": ("warning", "warning"), "P3": ("accent", "accent"),
    "P4": ("good", "good"), "P5": ("default", "default")}
DETAILS_ID = "incident-details"
MAX_UPDATE_SHOWN = 280  # the latest update, as read at a glance; the thread has it in full


@dataclass(frozen=True)
class LatestUpdate:
    """The last status update posted for the incident (to responders or stakeholders)."""

    at: datetime
    text: str
    author: str  # a name, or "" for Beacon's automatic update
    audience: str


def stamp(moment: datetime | None, now: datetime) -> str:
    """One timestamp style for the whole card, in the reader's time zone."""
    if moment is None:
        return "—"
    iso = card_time(moment)
    if abs(now - moment) < timedelta(hours=20):
        return f"{{{{TIME({iso})}}}}"
    return f"{{{{DATE({iso}, COMPACT)}}}} {{{{TIME({iso})}}}}"


def impact_line(incident: Incident, now: datetime) -> str:
    """How long the impact has lasted, from when it started (or, unknown, from the declaration)."""
    started = incident.impact_started_at or incident.declared_at
    since = "impact since" if incident.impact_started_at else "declared"
    if incident.resolved_at is not None:
        return (f"Impact lasted **{span(incident.resolved_at - started)}** "
                f"({stamp(started, now)} – {stamp(incident.resolved_at, now)})")
    return f"Impact for **{span(now - started)}** ({since} {stamp(started, now)}, as of {stamp(now, now)})"


def named(person: Person, people: dict[str, Person]) -> Person:
    known = people.get(person.aad_object_id)
    if known and known.name:
        return Person(person.aad_object_id, known.name, known.user_id or person.user_id)
    return person


def who(person: Person | None, people: dict[str, Person], mentions: list[Json], *, none: str = "—") -> str:
    if person is None:
        return none
    person = named(person, people)
    if not person.name:
        return "a person Beacon has not seen yet"
    tag, entity = mention(person.name, person.user_id or person.aad_object_id)
    mentions.append(entity)
    return tag


def header(incident: Incident, now: datetime) -> Json:
    """The severity as a badge the eye finds first, then the status, the title and the impact."""
    style, color = PRIORITY_STYLE.get(incident.priority, ("default", "default"))
    # A white tile on the priority's colour band: the first thing the eye finds, in every theme.
    badge = column([text(incident.priority, size="ExtraLarge", weight="Bolder", color=color)],
                   width="auto", style="default", align="Center")
    status = incident.status.value.capitalize()
    title = column([text(f"{incident.label} · **{status}**", weight="Bolder", spacing="None"),
                    text(plain(incident.title), size="Large", weight="Bolder", spacing="None")],
                   width="stretch", align="Center")
    return container([column_set([badge, title]), text(impact_line(incident, now), spacing="Small")],
                     style=style, bleed=True)


def acknowledged(incident: Incident, people: dict[str, Person], now: datetime) -> str:
    """"by Ada Lovelace (SMS link) 03:04": who answered, how, and when."""
    if incident.acknowledged_at is None:
        return "**not yet**"
    person = named(incident.acknowledged_by, people) if incident.acknowledged_by else None
    how = "" if incident.acknowledged_via == "card" else ACK_VIA.get(incident.acknowledged_via, "")  # the usual way
    by = f"by {plain(person.name) if person and person.name else 'someone'}" + (f" ({how})" if how else "")
    return f"{by} {stamp(incident.acknowledged_at, now)}"


def latest(update: LatestUpdate | None, now: datetime) -> str:
    if update is None:
        return "none yet"
    author = plain(update.author) if update.author else "Beacon (automatic)"
    to = "" if update.audience == "responders" else f" to {update.audience}"
    return f"{stamp(update.at, now)} {author}{to}: {plain(short(update.text, MAX_UPDATE_SHOWN))}"


def key_facts(incident: Incident, people: dict[str, Person], update: LatestUpdate | None, now: datetime,
              mentions: list[Json]) -> Json:
    pairs = [("Commander", who(incident.commander, people, mentions, none="**nobody yet**")),
             ("Acknowledged", acknowledged(incident, people, now)),
             ("Latest update", latest(update, now))]
    if incident.is_open and incident.next_update_due:
        pairs.append(("Next update", stamp(incident.next_update_due, now)))
    if incident.resolution_summary:
        pairs.append(("Resolution", plain(incident.resolution_summary)))
    return facts(pairs)


def details(incident: Incident, people: dict[str, Person], extra_facts: tuple[tuple[str, str], ...],
            now: datetime, mentions: list[Json], *, max_responders: int) -> list[Json]:
    """A "Details" link and, hidden until it is pressed, the facts a responder needs less often."""
    shown = incident.responders[:max_responders]
    responders = ", ".join(who(p, people, mentions) for p in shown) or "—"
    if len(incident.responders) > len(shown):
        responders += f" and {len(incident.responders) - len(shown)} more"
    pairs = [
        ("Impact × urgency", f"{incident.impact.value.capitalize()} × {incident.urgency.value.capitalize()}"),
        ("Service", plain(incident.service) or "—"),
        ("Client", plain(incident.client) or "internal"),
        ("Responders", responders),
        ("Declared", f"{stamp(incident.declared_at, now)} by {plain(incident.declared_by.name) or 'someone'}"),
    ]
    if incident.impact_started_at:
        pairs.append(("Impact started", stamp(incident.impact_started_at, now)))
    if incident.resolved_at:
        pairs.append(("Resolved", stamp(incident.resolved_at, now)))
    pairs += [(plain(k), plain(v)) for k, v in extra_facts]
    hidden: list[Json] = [text(plain(incident.description), subtle=True)] if incident.description else []
    hidden.append(facts(pairs))
    toggle = container([text("Details ▸", color="accent", weight="Bolder", size="Small")],
                       select_action=toggle_action("Details", [DETAILS_ID]))
    return [toggle, container(hidden, id_=DETAILS_ID, visible=False)]


def admin_problems(problems: tuple[str, ...]) -> list[Json]:
    """Integration problems with their fix, on an incident admin's own view of the card only."""
    if not problems:
        return []
    lines = [text("Setup problems (only incident admins see this)", weight="Bolder", color="warning", size="Small")]
    lines += [text(f"• {plain(p)}", size="Small", spacing="None", subtle=True) for p in problems[:6]]
    return [container(lines, style="warning")]
