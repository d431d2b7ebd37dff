"""What a responder asks of the bridge from a card. Each is one transaction that records the
request on the timeline and queues the Graph work in the outbox; none calls Graph itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.bridge import effects
from services.bridge.model import Bridge, BridgeCall, BridgeState, Invitee
from services.bridge.plan import (
    chosen_invitees,
    chosen_ring_targets,
    describe,
    invite_domains,
    invitee_plan,
    ring_candidates,
)
from services.deps import Deps
from services.incidents import DomainError, Incident, IncidentNotFound, Person, ValidationFailed
from services.ports import CallTarget
from services.store.uow import UnitOfWork

CALL_STILL_RINGING = timedelta(minutes=15)  # after that an unanswered call no longer blocks a new one


@dataclass(frozen=True)
class BridgeSetup:
    """What the deployment allows: why meetings or calls cannot be made ('' = they can)."""

    conferencing_problem: str = ""
    calling_problem: str = ""
    public_url: str = ""

    @property
    def callback_uri(self) -> str:
        """Where Graph posts call notifications: https://<BEACON_PUBLIC_URL>/api/calls."""
        url = self.public_url.strip().rstrip("/")
        if not url:
            return ""
        return (url if "://" in url else f"https://{url}") + "/api/calls"


@dataclass(frozen=True)
class BridgeCommand:
    incident_id: int
    actor: Person
    form: dict[str, Any] = field(default_factory=dict)
    activity_id: str = ""
    tenant_id: str = ""


@dataclass(frozen=True)
class BridgeSituation:
    """Everything the bridge cards show."""

    incident: Incident
    bridge: Bridge | None
    plan: list[Invitee]
    ring: list[CallTarget]
    call: BridgeCall | None = None
    notice: str = ""
    queued: bool = False  # this request queued Graph work


async def _open_incident(uow: UnitOfWork, incident_id: int) -> Incident:
    incident = await uow.incidents.get(incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id} does not exist")
    if incident.drill:
        raise DomainError(f"{incident.label} is a drill: Beacon creates no bridge and sends no invitation "
                          "for drills. Practise with a Teams meeting of your own.")
    if not incident.is_open:
        raise DomainError(f"{incident.number} is {incident.status.value}; reopen it to start a bridge")
    return incident


async def _situation(uow: UnitOfWork, deps: Deps, incident: Incident, actor: Person, *, notice: str = "",
                     queued: bool = False) -> BridgeSituation:
    ids = [p.aad_object_id for p in (incident.commander, *incident.responders) if p and not p.name]
    people = await uow.people.named(ids)
    assert incident.id is not None
    return BridgeSituation(incident, await uow.bridges.get(incident.id),
                           invitee_plan(incident, deps.config, people),
                           ring_candidates(incident, deps.config, people, exclude=actor.aad_object_id),
                           await uow.bridges.latest_call(incident.id), notice, queued)


async def bridge_situation(incident_id: int, actor: Person, deps: Deps) -> BridgeSituation:
    async with deps.uow() as uow:
        incident = await _open_incident(uow, incident_id)
        return await _situation(uow, deps, incident, actor)


async def start_bridge(cmd: BridgeCommand, deps: Deps) -> BridgeSituation:
    """Record the bridge request and queue the meeting; an incident never gets a second bridge."""
    for _attempt in range(2):
        try:
            return await _start_once(cmd, deps)
        except IntegrityError:
            continue  # a simultaneous click inserted the bridge first; the next pass shows it
    raise DomainError("the bridge is being started by someone else; try again in a moment")


async def _start_once(cmd: BridgeCommand, deps: Deps) -> BridgeSituation:
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident = await _open_incident(uow, cmd.incident_id)
        assert incident.id is not None
        row = await uow.bridges.row(incident.id)
        replayed = bool(cmd.activity_id) and await uow.activities.was_processed(cmd.activity_id)
        if replayed or (row is not None and BridgeState(row.state).is_live):
            return await _situation(uow, deps, incident, cmd.actor)
        situation = await _situation(uow, deps, incident, cmd.actor)
        invitees = chosen_invitees(situation.plan, cmd.form, invite_domains(deps.config))
        if row is None:
            row = await uow.bridges.add(incident.id, cmd.actor, invitees, now)
        else:  # the last attempt failed or Graph was not configured: try again with this list
            row.attempt += 1
            row.state, row.error = BridgeState.REQUESTED.value, ""
            row.requested_by, row.requested_at, row.updated_at = cmd.actor.to_dict(), now, now
            row.invitees = [i.to_dict() for i in invitees]
        await effects.record(uow, incident.id, "bridge_requested",
                             f"{cmd.actor.name or 'someone'} started a bridge inviting {describe(invitees)}", now,
                             actor=cmd.actor, after={"invitees": [i.to_dict() for i in invitees],
                                                     "attempt": row.attempt})
        await effects.queue(uow, effects.CreateMeeting(incident.id, row.attempt, f"{incident.number} bridge meeting"),
                            now)
        await effects.refresh_card(uow, incident.id, f"requested:{row.attempt}", now)
        await uow.people.remember([cmd.actor], now)
        if cmd.activity_id:
            await uow.activities.mark_processed(cmd.activity_id, incident.id, now)
        await uow.flush()  # the situation below re-reads the bridge row
        situation = await _situation(uow, deps, incident, cmd.actor, queued=True)
        await uow.commit()
    return situation


async def invite_more(cmd: BridgeCommand, deps: Deps) -> BridgeSituation:
    """Queue invitations to the incident's bridge for people not invited yet."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident = await _open_incident(uow, cmd.incident_id)
        assert incident.id is not None
        situation = await _situation(uow, deps, incident, cmd.actor)
        bridge = situation.bridge
        if bridge is None or not bridge.state.is_live:
            raise DomainError(f"{incident.number} has no bridge yet; start one first")
        if cmd.activity_id and await uow.activities.was_processed(cmd.activity_id):
            return situation
        chosen = chosen_invitees(situation.plan, cmd.form, invite_domains(deps.config))
        invitees = [i for i in chosen if not bridge.is_invited(i)]
        if not invitees:
            raise ValidationFailed("invitees", "tick someone not invited yet, or type an email address")
        key = cmd.activity_id or f"{now:%Y%m%d%H%M%S%f}"
        await effects.queue(uow, effects.Invite(
            incident.id, [i.to_dict() for i in invitees], cmd.actor.to_dict(),
            f"{incident.number} bridge invitation for {describe(invitees, 3)}", f"invite:{key}"), now)
        if cmd.activity_id:
            await uow.activities.mark_processed(cmd.activity_id, incident.id, now)
        await uow.commit()
    return BridgeSituation(incident, bridge, situation.plan, situation.ring, situation.call, queued=True,
                           notice=describe(invitees))


async def ring_responders(cmd: BridgeCommand, deps: Deps, setup: BridgeSetup) -> BridgeSituation:
    """Queue a Graph group call that rings up to 5 internal responders."""
    if setup.calling_problem:
        raise DomainError(f"ringing needs Microsoft Graph calling: {setup.calling_problem}")
    if not setup.callback_uri:
        raise DomainError("ringing needs BEACON_PUBLIC_URL: Graph reports the call to "
                          "https://<BEACON_PUBLIC_URL>/api/calls")
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident = await _open_incident(uow, cmd.incident_id)
        assert incident.id is not None
        situation = await _situation(uow, deps, incident, cmd.actor)
        if cmd.activity_id and await uow.activities.was_processed(cmd.activity_id):
            return situation
        call = situation.call
        if call is not None and call.is_active and now - call.updated_at < CALL_STILL_RINGING:
            raise DomainError(f"a call is already {call.state}; people who missed it can join the bridge")
        targets = chosen_ring_targets(situation.ring, cmd.form)
        await _queue_ring(uow, incident, cmd, targets, setup, now)
        await uow.commit()
    names = ", ".join(t.name or "a responder" for t in targets)
    return BridgeSituation(incident, situation.bridge, situation.plan, situation.ring, call, queued=True,
                           notice=names)


async def _queue_ring(uow: UnitOfWork, incident: Incident, cmd: BridgeCommand, targets: list[CallTarget],
                      setup: BridgeSetup, now: datetime) -> None:
    assert incident.id is not None
    key = cmd.activity_id or f"{now:%Y%m%d%H%M%S%f}"
    await effects.queue(uow, effects.Ring(
        incident.id, targets=[{"aad_object_id": t.aad_object_id, "name": t.name} for t in targets],
        tenant_id=cmd.tenant_id, callback_uri=setup.callback_uri, actor=cmd.actor.to_dict(),
        subject=f"{incident.label} bridge: {incident.title}"[:200],
        description=f"{incident.number} call ringing {len(targets)} responder(s)", tag=f"ring:{key}"), now)
    if cmd.activity_id:
        await uow.activities.mark_processed(cmd.activity_id, incident.id, now)
