"""Use cases: act on an incident (declaring is services.declaring). Each is one transaction that
writes the change, its timeline events and the outbox rows for its effects; none calls an outside
system."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from services.comms.confirm import stakeholder_update_routes
from services.comms.plan import RESPONDERS, STAKEHOLDERS, Routes
from services.config import BeaconConfig
from services.declaring import FormMessage, claim_form, form_used, joined_text, person_choice
from services.deps import Deps
from services.errors import ConcurrentUpdate
from services.incidents import (
    DomainError,
    Incident,
    IncidentNotFound,
    Person,
    Status,
    ValidationFailed,
)
from services.incidents.model import MAX_TEXT, MAX_TITLE, clean_text, parse_level
from services.intake.replies import is_customer_ticket
from services.pipeline import change_within
from services.status_page.subscriptions import subscribers_told
from services.store.uow import UnitOfWork
from services.verbs import Verb

T = TypeVar("T")


@dataclass(frozen=True)
class IncidentAction:
    verb: Verb
    incident_id: int
    shown_version: int | None
    data: dict[str, Any]
    actor: Person
    activity_id: str = ""
    form_message: FormMessage | None = None  # joining from a declare form: the form is used once


@dataclass
class ActionOutcome:
    incident: Incident
    applied: bool
    notice: str = ""
    is_error: bool = False
    changed_meanwhile: list[str] = field(default_factory=list)  # the latest few, oldest first
    earlier_changes: int = 0  # how many more changed before those (COUNTED_CHANGES at most)
    # For the poster of a stakeholder update only: every route it went to or skipped, and why.
    routes: tuple[str, ...] = ()
    # Those the action's data names whom Beacon has met, by Entra id (an assignment's responders),
    # so a form shown again after an error names them without reading them again.
    people: dict[str, Person] = field(default_factory=dict)
    field: str = ""  # the form field an error is about, when it is about one


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
    people = tuple(p for p in (person_choice(v, config, known) for v in raw.split(",")) if p)
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


def _join(incident: Incident, data: dict[str, Any], actor: Person, now: datetime, config: BeaconConfig) -> None:
    """From a declare form about the same problem: the declarer becomes a responder, and what they
    typed is kept as their note (nothing they wrote is lost)."""
    title = clean_text(data.get("title"), "title", limit=MAX_TITLE)
    involved = {p.aad_object_id for p in (incident.commander, incident.declared_by, *incident.responders) if p}
    if actor.aad_object_id not in involved:
        incident.assign_responders((actor,), actor, now)
    description = str(data.get("description") or "").strip()
    note = f"Joined from a new declaration: “{title}”" if title else "Joined from a new declaration"
    if description:
        room = MAX_TEXT - len(note) - 2
        note += ". " + (description if len(description) <= room else description[:room - 1] + "…")
    incident.add_note(note, actor, now)


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
# What a stale card's clicker is shown: the latest few changes, and how many came before them,
# counted up to a bound, so a click costs the same however long the incident has been running.
SHOWN_CHANGES = 5
COUNTED_CHANGES = 10_000


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
    Verb.DECLARE_JOIN: ActionSpec(_join),
}


ALREADY_APPLIED = "That action was already applied."
FORM_USED = "This form was already used."
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
    async def attempt(uow: UnitOfWork) -> ActionOutcome:
        outcome = await act_within(uow, cmd, deps)
        if outcome.applied:
            await uow.commit()
        return outcome

    return await retrying_races(deps, attempt)


async def retrying_races(deps: Deps, attempt: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """`attempt` in a unit of work of its own, tried again in a fresh one when it lost a race."""
    attempts = 6
    for tried in range(1, attempts + 1):
        try:
            async with deps.uow() as uow:
                return await attempt(uow)
        except ConcurrentUpdate:
            if tried == attempts:
                break
            # Clicks on one incident queue on its lock (incidents.get_to_change), so this is rare: a
            # replay of this click committed first, or a lock wait was given up. Wait a moment,
            # longer each time and at random, so that the retries do not meet head-on again.
            await asyncio.sleep(random.uniform(0, 0.03 * tried))
    raise DomainError("the incident is changing too fast; try again")


async def _judge(uow: UnitOfWork, cmd: IncidentAction, deps: Deps,
                 now: datetime) -> tuple[Incident, ActionOutcome | None, tuple[list[str], int]]:
    """Read the incident a click is about and judge the click: a refresh, a replay, a refusal or a
    stale card whose change conflicts is answered here; otherwise it applies, and what changed since
    the clicker's card is shown with it: the latest summaries and how many changes came before."""
    refresh = cmd.verb is Verb.REFRESH
    # A click is marked as applied first, before the incident is locked (PostgreSQL holds the lock
    # for fewer round trips): a replay finds the mark (one INSERT … ON CONFLICT DO NOTHING, no
    # look-up first). Any answer but an applied change rolls the mark back with the rest.
    replayed = not refresh and bool(cmd.activity_id) and not await uow.activities.mark_processed(
        cmd.activity_id, cmd.incident_id, now)
    if refresh or replayed:
        incident = await uow.incidents.get(cmd.incident_id)
    else:  # locked until the commit: other clicks on it wait for this one instead of racing it
        incident = await uow.incidents.get_to_change(cmd.incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{cmd.incident_id} does not exist")
    if refresh:
        return incident, ActionOutcome(incident, applied=False), ([], 0)
    if replayed:
        return incident, ActionOutcome(incident, applied=False, notice=ALREADY_APPLIED), ([], 0)
    if cmd.shown_version is None or cmd.shown_version == incident.version:
        return incident, None, ([], 0)
    assert incident.id is not None
    latest, total = await uow.timeline.latest_after_version(incident.id, cmd.shown_version, leave_out=QUIET,
                                                            limit=SHOWN_CHANGES, count_up_to=COUNTED_CHANGES)
    missed = [e.summary for e in latest], total - len(latest)
    if await uow.timeline.any_after_version(incident.id, cmd.shown_version, ACTIONS[cmd.verb].conflicts):
        return incident, ActionOutcome(incident, applied=False, changed_meanwhile=missed[0], earlier_changes=missed[1],
                                       notice="Not applied: the incident changed since your card was shown."), missed
    return incident, None, missed


async def act_within(uow: UnitOfWork, cmd: IncidentAction, deps: Deps) -> ActionOutcome:
    """One attempt, in the caller's unit of work: judge the click (marking it applied), apply one
    domain method and save it through the pipeline. The caller commits when it applied (as with
    change_within), so it may read what it answers with first. ConcurrentUpdate when it lost a
    race: the caller tries again in a fresh unit of work (retrying_races)."""
    now = deps.clock.now()
    incident, answer, (meanwhile, earlier) = await _judge(uow, cmd, deps, now)
    if answer is not None:
        return answer
    if cmd.form_message is not None and (used := await claim_form(uow, cmd.form_message, now)) is not None:
        return ActionOutcome(used, applied=False, notice=FORM_USED)
    was_open, old_impact = incident.is_open, incident.impact
    data = await _with_known_people(uow, cmd)
    try:
        ACTIONS[cmd.verb].apply(incident, data, cmd.actor, now, deps.config)
    except DomainError as error:
        return ActionOutcome(incident, applied=False, notice=str(error), is_error=True,
                             field=error.field if isinstance(error, ValidationFailed) else "",
                             people=dict(data.get(KNOWN_PEOPLE) or {}))
    await uow.people.remember([cmd.actor, *incident.responders], now)
    await change_within(uow, incident, deps, now, was_open=was_open, old_impact=old_impact)
    if cmd.form_message is not None:
        await form_used(uow, cmd.form_message, incident, joined_text(incident, cmd.actor), now)
    routes = await _routes_told(uow, incident, cmd, deps)
    return ActionOutcome(incident, applied=True, changed_meanwhile=meanwhile, earlier_changes=earlier,
                         notice="Applied on top of newer changes." if meanwhile else "", routes=routes)


async def _routes_told(uow: UnitOfWork, incident: Incident, cmd: IncidentAction, deps: Deps) -> tuple[str, ...]:
    """Where a stakeholder update just posted went, for its poster's eyes only."""
    if cmd.verb is not Verb.POST_UPDATE or cmd.data.get("audience") != STAKEHOLDERS:
        return ()
    assert incident.id is not None
    tickets = 0 if incident.drill else sum(is_customer_ticket(link) for link in await uow.tickets.of(incident.id))
    notified = await uow.timeline.latest(incident.id, "notified")  # the routes its first notice took
    numbers = len(Routes.from_dict((notified.after or {}).get("routes", {})).sms_numbers) if notified else 0
    subscribers = (len(await subscribers_told(uow, incident, deps.config))
                   if deps.client_status_link is not None else None)
    routes = stakeholder_update_routes(incident, deps.config, customer_tickets=tickets, sms_numbers=numbers,
                                       subscribers=subscribers, unavailable=deps.unavailable)
    return tuple(route.line() for route in routes)
