"""Who a level of an escalation policy reaches: `schedule:` (whoever is on call then), `person:`
and `team:` (every member of a directory team), as directory people with what each method needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.config import BeaconConfig, PersonEntry
from services.paging.config import EscalationLevel
from services.paging.shifts import Override, Shift, on_call

# The cached shifts of a schedule's iCalendar feed, or None while it has none (the rotation applies).
FeedShifts = Callable[[str], Sequence[Shift] | None]


def no_feeds(schedule: str) -> Sequence[Shift] | None:
    return None


@dataclass(frozen=True)
class Pager:
    """A person to page: `key` names them in idempotency keys and links (email, else aad id)."""

    key: str
    name: str
    email: str = ""
    aad_object_id: str = ""
    phone: str = ""


def pager(entry: PersonEntry) -> Pager:
    return Pager((entry.email or entry.aad_object_id).lower(), entry.name, entry.email, entry.aad_object_id,
                 entry.phone)


def find_person(config: BeaconConfig, key: str) -> Pager | None:
    """A directory person by email or aad id (case-insensitive)."""
    wanted = key.strip().lower()
    for entry in config.directory_people():
        if wanted and wanted in {entry.email.lower(), entry.aad_object_id.lower()}:
            return pager(entry)
    return None


@dataclass(frozen=True)
class Reached:
    """Who a level reaches, and the notes for entries that reach nobody right now."""

    people: tuple[Pager, ...]
    gaps: tuple[str, ...]


def level_targets(config: BeaconConfig, level: EscalationLevel, at: datetime, overrides: Sequence[Override],
                  feeds: FeedShifts = no_feeds) -> Reached:
    people: list[Pager] = []
    gaps: list[str] = []
    for target in level.notify:
        kind, _, name = target.partition(":")
        if kind == "person":
            found = find_person(config, name)
            people += [found] if found else []
            if found is None:
                gaps.append(f"{name} is not in the directory")
        elif kind == "team":
            team = next((t for t in config.directory.teams if t.name == name), None)
            people += [pager(m) for m in (team.members if team else []) if m.email or m.aad_object_id]
        else:
            people += _on_call(config, name, at, overrides, feeds, gaps)
    unique = {p.key: p for p in people}
    return Reached(tuple(unique.values()), tuple(gaps))


def _on_call(config: BeaconConfig, name: str, at: datetime, overrides: Sequence[Override], feeds: FeedShifts,
             gaps: list[str]) -> list[Pager]:
    schedule = config.oncall.schedule(name)
    if schedule is None:
        gaps.append(f"schedule {name} does not exist")
        return []
    shift = on_call(schedule, at, overrides, feeds(name))
    if shift is None:
        gaps.append(f"nobody is on call for {name}")
        return []
    person = find_person(config, shift.person)
    if person is None:  # an override or a feed named someone the directory does not know
        gaps.append(f"{shift.person} (on call for {name}) is not in the directory")
        return []
    return [person]
