"""Use cases: declare an incident and act on it. Each is one transaction that writes the change,
its timeline events and the outbox rows for its effects; none calls an outside system."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.comms.plan import RESPONDERS
from services.config import BeaconConfig
from services.deps import Deps, ThreadTarget
from services.errors import ConcurrentUpdate
from services.impact_start import impact_started_at
from services.incidents import (
    DomainError,
    Incident,
    IncidentNotFound,
    Person,
    Status,
    ValidationFailed,
)
from services.incidents.model import MAX_TEXT, MAX_TITLE, clean_text, parse_level
from services.pipeline import change_within, declare_within
from services.store.uow import UnitOfWork
from services.verbs import Verb


@dataclass(frozen=True)
class DeclareIncident:
    form: dict[str, Any]
    actor: Person
    target: ThreadTarget
    source: str = "card"
    zone: str = ""  # the declarer's IANA time zone (clientInfo), for "impact started at"


@dataclass(frozen=True)
class IncidentAction:
    verb: Verb
    incident_id: int
    shown_version: int | None
    data: dict[str, Any]
    actor: Person
    activity_id: str = ""


@dataclass
class ActionOutcome:
    incident: Incident
    applied: bool
    notice: str = ""
    is_error: bool = False
    changed_meanwhile: list[str] = field(default_factory=list)


def _person_choice(value: object, config: BeaconConfig, known: dict[str, Person] | None = None) -> Person | None:
    """A person picked by Entra id, named from the directory or from the people Beacon has met
    (`known`), so the timeline and the thread say a name, never the id."""
    aad = str(value or "").strip()
    if not aad:
        return None
    if len(aad) > 100:
        raise ValidationFailed("commander", "the chosen person is not a valid Teams user")
    for member in (m for team in config.directory.teams for m in team.members):
        if member.aad_object_id == aad:
            return Person(aad, member.name)
    met = (known or {}).get(aad)
    return Person(aad, met.name, met.user_id) if met and met.name else Person(aad, "")


def parse_declaration(form: dict[str, Any], config: BeaconConfig, *, now: datetime,
                      zone: str = "") -> dict[str, Any]:
    """Validate the declare form; raises ValidationFailed naming the first bad field."""
    title = clean_text(form.get("title"), "title", limit=MAX_TITLE, required=True)
    client = clean_text(form.get("client"), "client", limit=200)
    if client and config.client(client) is None:
        raise ValidationFailed("client", f"{client!r} is not a client in the directory")
    service = clean_text(form.get("service"), "service", limit=200)
    if service and config.services and config.service(service) is None:
        raise ValidationFailed("service", f"{service!r} is not a configured service")
    return {
        "title": title,
        "description": clean_text(form.get("description"), "description", limit=MAX_TEXT),
        "impact": parse_level(form.get("impact") or "medium", "impact"),
        "urgency": parse_level(form.get("urgency") or "medium", "urgency"),
        "service": service, "client": client,
        "commander": _person_choice(form.get("commander"), config),
        "drill": str(form.get("drill") or "").lower() in ("true", "1", "yes", "on"),
        "impact_started_at": impact_started_at(form.get("impact_date"), form.get("impact_time"), now=now, zone=zone),
    }


async def declare_incident(cmd: DeclareIncident, deps: Deps) -> Incident:
    now = deps.clock.now()
    fields = parse_declaration(cmd.form, deps.config, now=now, zone=cmd.zone)
    incident = Incident.declare(
        priority=deps.config.matrix.priority(fields["impact"], fields["urgency"]),
        declared_by=cmd.actor, source=cmd.source, now=now, **fields)
    async with deps.uow() as uow:
        await uow.people.remember([cmd.actor], now)
        await declare_within(uow, incident, cmd.target, deps, now)
        await uow.commit()
    return incident


# -- acting on an incident -------------------------------------------------------------------

Apply = Callable[[Incident, dict[str, Any], Person, datetime, BeaconConfig], None]


def _reassess(incident: Incident, data: dict[str, Any], actor: Person, now: datetime,
              config: BeaconConfig) -> None:
    impact, urgency = parse_level(data.get("impact"), "impact"), parse_level(data.get("urgency"), "urgency")
    incident.reassess(impact, urgency, config.matrix.priority(impact, urgency), actor, now)


def _assign(incident: Incident, data: dict[str, Any], actor: Person, now: datetime,
            config: BeaconConfig) -> None:
    raw = str(data.get("responders") or "")
    known = data.get(KNOWN_PEOPLE) or {}
    people = tuple(p for p in (_person_choice(v, config, known) for v in raw.split(",")) if p)
    if not people:
        raise ValidationFailed("responders", "choose at least one responder")
    if len(people) > 25:
        raise ValidationFailed("responders", "assign at most 25 responders at a time")
    incident.assign_responders(people, actor, now)


def _status(incident: Incident, data: dict[str, Any], actor: Person, now: datetime,
            config: BeaconConfig) -> None:
    try:
        status = Status(str(data.get("status") or ""))
    except ValueError:
        raise ValidationFailed("status", f"unknown status {str(data.get('status'))[:40]!r}") from None
    incident.move_to(status, actor, now)


def _post_update(incident: Incident, data: dict[str, Any], actor: Person, now: datetime,
                 config: BeaconConfig) -> None:
    incident.post_update(data.get("update"), str(data.get("audience") or RESPONDERS), actor, now)


@dataclass(frozen=True)
class ActionSpec:
    apply: Apply
    # Changes made since the clicker's card that this action would overwrite: when one of these
    # happened meanwhile the action is refused and the clicker is shown what changed. Additive
    # actions (note, assign, acknowledge, post update) conflict with nothing.
    conflicts: frozenset[str] = frozenset()


LIFECYCLE = frozenset({"status_changed", "resolved", "reopened", "closed"})
# Timeline entries that never make a card stale in a way worth telling the clicker about.
QUIET = frozenset({"status_update", "update_missed", "update_reminder", "notified", "delivery_sent",
                   "delivery_failed", "delivery_skipped"})


def _acknowledge(incident: Incident, data: dict[str, Any], actor: Person, now: datetime) -> None:
    """From the incident card, or from the personal page card (its data says via "teams"). A page
    by hand (level 0) answered once someone acknowledged makes the person a responder instead."""
    by_hand = data.get("via") == "teams" and str(data.get("level")) == "0" and incident.acknowledged_at is not None
    if by_hand and actor.aad_object_id not in {p.aad_object_id for p in (incident.commander, *incident.responders)
                                               if p}:
        incident.assign_responders((actor,), actor, now)
        return
    incident.acknowledge(actor, now, via="teams" if data.get("via") == "teams" else "card")


ACTIONS: dict[Verb, ActionSpec] = {
    # From the incident card, or from the personal page card (its data says via "teams").
    Verb.ACKNOWLEDGE: ActionSpec(lambda i, d, a, n, c: _acknowledge(i, d, a, n)),
    Verb.TAKE_COMMAND: ActionSpec(lambda i, d, a, n, c: i.take_command(a, n), frozenset({"commander_changed"})),
    Verb.REASSESS: ActionSpec(_reassess, frozenset({"priority_changed"})),
    Verb.ASSIGN: ActionSpec(_assign),
    Verb.STATUS: ActionSpec(_status, LIFECYCLE),
    Verb.NOTE: ActionSpec(lambda i, d, a, n, c: i.add_note(d.get("note"), a, n)),
    Verb.RESOLVE: ActionSpec(lambda i, d, a, n, c: i.resolve(d.get("summary"), a, n), LIFECYCLE),
    Verb.REOPEN: ActionSpec(lambda i, d, a, n, c: i.move_to(Status.INVESTIGATING, a, n), LIFECYCLE),
    Verb.POST_UPDATE: ActionSpec(_post_update),
    Verb.CLOSE: ActionSpec(lambda i, d, a, n, c: i.move_to(Status.CLOSED, a, n), LIFECYCLE),
}


ALREADY_APPLIED = "That action was already applied."
# Where an action's data carries the people Beacon has met among those it names (set by Beacon
# after reading the database, never taken from the card).
KNOWN_PEOPLE = "_known_people"


async def _with_known_people(uow: UnitOfWork, cmd: IncidentAction) -> dict[str, Any]:
    data = {k: v for k, v in cmd.data.items() if k != KNOWN_PEOPLE}
    if cmd.verb is Verb.ASSIGN:
        ids = [v.strip() for v in str(data.get("responders") or "").split(",") if v.strip()][:25]
        data[KNOWN_PEOPLE] = await uow.people.named(ids)
    return data


async def act_on_incident(cmd: IncidentAction, deps: Deps) -> ActionOutcome:
    """Apply a card action once; a replay, a stale card or a race is answered, never doubled."""
    attempts = 6
    for attempt in range(1, attempts + 1):
        try:
            return await _act_once(cmd, deps)
        except ConcurrentUpdate:
            if attempt == attempts:
                break
            # Someone saved first: reload and judge again against their change. Wait a moment,
            # longer each time and at random, so that writers racing for one busy incident (other
            # clicks, replicas' scheduler batches, alerts) stop meeting head-on: three immediate
            # retries were not enough with three replicas under load. At most ~0.45 s in all.
            await asyncio.sleep(random.uniform(0, 0.03 * attempt))
    raise DomainError("the incident is changing too fast; try again")


async def _judge(uow: UnitOfWork, cmd: IncidentAction, deps: Deps,
                 now: datetime) -> tuple[Incident, ActionOutcome | None, list[str]]:
    """Read the incident a click is about and judge the click: a refresh, a replay, a refusal or a
    stale card whose change conflicts is answered here; otherwise it applies, and the summaries of
    what changed since the clicker's card are shown with it."""
    refresh = cmd.verb is Verb.REFRESH
    replayed = not refresh and bool(cmd.activity_id) and await uow.activities.was_processed(cmd.activity_id)
    if not refresh and not replayed:
        await uow.write_first()  # before the incident is read: on SQLite no one can change it meanwhile
    incident = await uow.incidents.get(cmd.incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{cmd.incident_id} does not exist")
    if refresh:
        return incident, ActionOutcome(incident, applied=False), []
    if replayed:
        return incident, ActionOutcome(incident, applied=False, notice=ALREADY_APPLIED), []
    if cmd.shown_version is None or cmd.shown_version == incident.version:
        return incident, None, []
    events_since = await uow.timeline.after_version(incident.id or 0, cmd.shown_version)
    meanwhile = [e.summary for e in events_since if e.kind not in QUIET]
    if any(e.kind in ACTIONS[cmd.verb].conflicts for e in events_since):
        return incident, ActionOutcome(incident, applied=False, changed_meanwhile=meanwhile,
                                       notice="Not applied: the incident changed since your card was shown."), meanwhile
    return incident, None, meanwhile


async def _act_once(cmd: IncidentAction, deps: Deps) -> ActionOutcome:
    """One attempt: open the unit of work, judge the click, apply one domain method, save it through
    the pipeline, commit. A replay of this click that commits first raises ConcurrentUpdate there."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident, answer, meanwhile = await _judge(uow, cmd, deps, now)
        if answer is not None:
            return answer
        was_open, old_impact = incident.is_open, incident.impact
        data = await _with_known_people(uow, cmd)
        try:
            ACTIONS[cmd.verb].apply(incident, data, cmd.actor, now, deps.config)
        except DomainError as error:
            return ActionOutcome(incident, applied=False, notice=str(error), is_error=True)
        await uow.people.remember([cmd.actor, *incident.responders], now)
        await change_within(uow, incident, deps, now, was_open=was_open, old_impact=old_impact,
                            activity_id=cmd.activity_id)
        await uow.commit()
    return ActionOutcome(incident, applied=True, changed_meanwhile=meanwhile,
                         notice="Applied on top of newer changes." if meanwhile else "")
