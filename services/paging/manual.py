"""Paging by hand (`@Beacon page @person|team <text>`): always for an incident, so the page can be
acknowledged and is tracked on its timeline. One round through the normal page effects (level 0:
no escalation follows), written with its timeline entry ("Ada Lovelace paged Grace Hopper: …") in
one transaction; a Teams message delivered twice pages once.

A team is paged through its on-call schedule when it has one, else every member with a way to be
reached. Its schedule is the one named like the team, else the schedules the first level of its
services' escalation policies pages. The methods are those of the first level of the incident
service's policy, else Teams and SMS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.config import BeaconConfig, TeamEntry
from services.deps import Deps
from services.incidents import Incident, Person, TimelineEvent, ValidationFailed
from services.paging.config import EscalationLevel
from services.paging.directory import FeedShifts, Pager, Reached, level_targets
from services.paging.escalation import page_effects
from services.paging.shifts import Override

MANUAL_LEVEL = 0  # in page keys and links: a page by hand, outside the escalation's levels
MOST_BY_HAND = 255  # a link carries the round in one byte
DEFAULT_METHODS = ("teams", "sms")
MAX_PAGE_TEXT = 300


class PageRefused(ValidationFailed):
    """A page by hand that was not sent; nothing changed."""


@dataclass(frozen=True)
class PageTarget:
    """Who a page by hand is for: a directory person, or a directory team."""

    person: Pager | None = None
    team: TeamEntry | None = None


@dataclass(frozen=True)
class PagedByHand:
    incident: Incident
    names: tuple[str, ...]
    methods: tuple[str, ...]
    notes: tuple[str, ...]
    applied: bool = True


def team_schedules(config: BeaconConfig, team: str) -> list[str]:
    if config.oncall.schedule(team) is not None:
        return [team]
    names: list[str] = []
    for service in config.services:
        policy = config.oncall.policy(service.escalation_policy) if service.team == team else None
        for target in policy.levels[0].notify if policy else []:
            kind, _, name = target.partition(":")
            if kind == "schedule" and name not in names:
                names.append(name)
    return names


def reach(config: BeaconConfig, target: PageTarget, methods: Sequence[str], at: datetime,
          overrides: Sequence[Override], feeds: FeedShifts) -> Reached:
    if target.person is not None:
        return Reached((target.person,), ())
    assert target.team is not None
    schedules = team_schedules(config, target.team.name)
    notify = [f"schedule:{s}" for s in schedules] or [f"team:{target.team.name}"]
    reached = level_targets(config, EscalationLevel(notify=notify, methods=list(methods)), at, overrides, feeds)
    if schedules and not reached.people:  # nobody on call for the team right now: its members, then
        members = level_targets(config, EscalationLevel(notify=[f"team:{target.team.name}"], methods=list(methods)),
                                at, overrides, feeds)
        return Reached(members.people, reached.gaps)
    return reached


def methods_for(incident: Incident, config: BeaconConfig) -> tuple[str, ...]:
    service = config.service(incident.service) if incident.service else None
    policy = config.oncall.policy(service.escalation_policy) if service and service.escalation_policy else None
    return tuple(policy.levels[0].methods) if policy else DEFAULT_METHODS


def _line(incident: Incident, actor: Person, why: str) -> str:
    """Who paged and why first: an SMS keeps one segment by cutting the end, the title."""
    return f"{incident.label} {incident.priority}: {actor.name or 'Someone'}: {why} - {incident.title}"


def _text(text: str) -> str:
    words = " ".join(text.split())
    if not words:
        raise PageRefused("text", "Say why you page: “@Beacon page @person <what you need>”.")
    return words[:MAX_PAGE_TEXT]


async def page_by_hand(deps: Deps, incident_id: int, target: PageTarget, text: str, actor: Person, *,
                       activity_id: str = "") -> PagedByHand:
    why = _text(text)
    now = deps.clock.now()
    async with deps.uow() as uow:
        await uow.write_first()
        incident = await uow.incidents.get(incident_id)
        if incident is None or incident.id is None:
            raise PageRefused("incident", f"INC-{incident_id} does not exist.")
        if not incident.is_open:
            raise PageRefused("incident", f"{incident.label} is {incident.status.value}: there is nobody to page for.")
        if activity_id and not await uow.activities.mark_processed(activity_id, incident.id, now):
            return PagedByHand(incident, (), (), (), applied=False)
        methods = methods_for(incident, deps.config)
        overrides = await uow.oncall_overrides.active(now)
        reached = reach(deps.config, target, methods, now, overrides, deps.shift_feeds)
        if not reached.people:
            raise PageRefused("person", "Nobody to page: " + ("; ".join(reached.gaps) or "the team has no members "
                                                                 "with a Teams id, phone or email in the directory"))
        earlier = [e for e in await uow.timeline.of(incident.id) if e.kind == "paged" and (e.after or {}).get("manual")]
        if len(earlier) >= MOST_BY_HAND:
            raise PageRefused("incident", f"{incident.label} was paged by hand {MOST_BY_HAND} times already.")
        round_ = len(earlier) + 1
        effects, missing = page_effects(incident, reached.people, methods, MANUAL_LEVEL, round_,
                                        text=_line(incident, actor, why))
        names = tuple(p.name or p.key for p in reached.people)
        notes = tuple([*reached.gaps, *missing])
        summary = f"{actor.name or 'Someone'} paged {', '.join(names)}: {why}"
        await uow.outbox.add_many(effects, now=now)
        await uow.timeline.record(incident.id, TimelineEvent(
            "paged", now, actor, summary + (f" ({'; '.join(notes)})" if notes else ""),
            after={"manual": True, "level": MANUAL_LEVEL, "round": round_, "people": [p.key for p in reached.people],
                   "names": list(names), "methods": list(methods), "drill": incident.drill, "pages": len(effects),
                   "text": why}), incident.version)
        await uow.commit()
    return PagedByHand(incident, names, methods, notes)
