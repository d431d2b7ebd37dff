"""The bridge's Graph work, run by the outbox worker after the Teams invoke has answered.

Each handler is safe to run again: the meeting is created with the incident's external id (Graph
returns the same meeting), a stored meeting is never created twice, and the follow-up posts have
fixed idempotency keys. A refusal by Graph is recorded on the timeline and shown in the thread
with its fix; the incident itself is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from services.bridge import effects, store
from services.bridge.calls import apply_held
from services.bridge.model import BridgeState, Invitee
from services.bridge.plan import describe, meeting_request
from services.bridge.usecases import BridgeSetup
from services.channels import usecases as channels
from services.delivery import DeliveryError, NotConfigured, PermanentDeliveryError
from services.deps import Deps
from services.incidents import Person
from services.outbox import Effect
from services.ports import Calling, CallTarget, Conferencing, Meeting

GRAPH = "Microsoft Graph"


class PeopleDirectory(Protocol):
    async def email_of(self, aad_object_id: str) -> str | None:
        """The person's mail address; None when they have none or cannot be looked up. A transient
        failure raises TransientDeliveryError: the outbox retries, nothing was created yet."""
        ...


def _actor(payload: dict[str, Any]) -> Person | None:
    data = payload.get("actor")
    return Person.from_dict(data) if isinstance(data, dict) and data.get("aad_object_id") else None


@dataclass
class BridgeDelivery:
    deps: Deps
    conferencing: Conferencing | None
    calling: Calling | None
    people: PeopleDirectory | None
    setup: BridgeSetup
    max_attempts: int = 6

    async def _addresses(self, invitees: list[Invitee]) -> tuple[list[Invitee], list[Invitee]]:
        """Invitees with an address, and those without one (looked up by Entra id first)."""
        ready: list[Invitee] = []
        missing: list[Invitee] = []
        for invitee in invitees:
            email = invitee.email
            if not email and invitee.aad_object_id and self.people is not None:
                email = await self.people.email_of(invitee.aad_object_id) or ""
            (ready if email else missing).append(replace(invitee, email=email))
        return ready, missing

    # -- the meeting ---------------------------------------------------------------------------
    async def create(self, effect: Effect) -> None:
        incident_id, attempt = int(effect.payload["incident_id"]), int(effect.payload["attempt"])
        async with self.deps.uow() as uow:
            row = await uow.bridges.row(incident_id)
            incident = await uow.incidents.get(incident_id)
        if row is None or incident is None or row.attempt != attempt or row.state != BridgeState.REQUESTED:
            return  # superseded by a later attempt, or done by an earlier delivery of this one
        if self.conferencing is None:
            await self._not_configured(incident_id, attempt)
            raise NotConfigured(GRAPH)
        invitees = [Invitee.from_dict(i) for i in row.invitees or []]
        try:
            ready, missing = await self._addresses(invitees)
            request = meeting_request(incident, ready, self.deps.clock.now())
            meeting = await self.conferencing.create_meeting(request)
        except DeliveryError as error:
            if not error.transient or effect.attempts >= self.max_attempts:
                await self._failed(incident_id, attempt, error)
            raise
        await self._created(incident_id, attempt, meeting, ready, missing)

    async def _created(self, incident_id: int, attempt: int, meeting: Meeting, ready: list[Invitee],
                       missing: list[Invitee]) -> None:
        now = self.deps.clock.now()
        async with self.deps.uow() as uow:
            row = await uow.bridges.row(incident_id)
            if row is None or row.attempt != attempt or row.state != BridgeState.REQUESTED:
                return
            store.store_meeting(row, meeting, [i.recipient() for i in ready], now)
            summary = f"bridge created: Teams meeting, invitations sent to {describe(ready)}"
            if missing:
                summary += f"; no email address for {describe(missing)} (they join from the thread)"
            await effects.record(uow, incident_id, "bridge_created", summary, now, after={
                "join_url": meeting.join_url, "dial_in": meeting.dial_in,
                "invited": [i.email for i in ready], "not_invited": [i.label for i in missing]})
            await effects.thread_card(uow, incident_id, "join", f"join:{attempt}", now)
            await channels.bridge_open(uow, incident_id, attempt, now)
            await effects.refresh_card(uow, incident_id, f"created:{attempt}", now)
            await uow.commit()

    async def _failed(self, incident_id: int, attempt: int, error: DeliveryError) -> None:
        now = self.deps.clock.now()
        async with self.deps.uow() as uow:
            row = await uow.bridges.row(incident_id)
            if row is None or row.attempt != attempt:
                return
            row.state, row.error, row.updated_at = BridgeState.FAILED.value, str(error)[:4000], now
            await effects.record(uow, incident_id, "bridge_failed", f"bridge not created: {error}", now,
                                 after={"error": str(error), "status": error.status})
            await effects.thread_card(uow, incident_id, "failed", f"failed:{attempt}", now, what="create",
                                      error=str(error)[:4000])
            await effects.refresh_card(uow, incident_id, f"failed:{attempt}", now)
            await uow.commit()

    async def _not_configured(self, incident_id: int, attempt: int) -> None:
        now = self.deps.clock.now()
        async with self.deps.uow() as uow:
            row = await uow.bridges.row(incident_id)
            if row is None or row.attempt != attempt:
                return
            row.state, row.updated_at = BridgeState.NOT_CONFIGURED.value, now
            row.error = self.setup.conferencing_problem or f"{GRAPH} is not configured"
            await effects.thread_card(uow, incident_id, "not_configured", f"not-configured:{attempt}", now,
                                      reason=row.error)
            await effects.refresh_card(uow, incident_id, f"not-configured:{attempt}", now)
            await uow.commit()

    # -- more people -------------------------------------------------------------------------
    async def invite(self, effect: Effect) -> None:
        incident_id = int(effect.payload["incident_id"])
        async with self.deps.uow() as uow:
            bridge = await uow.bridges.get(incident_id)
        if bridge is None or bridge.meeting is None:
            raise PermanentDeliveryError(f"INC-{incident_id} has no bridge meeting to invite to: it was not created")
        if self.conferencing is None:
            raise NotConfigured(GRAPH)
        invitees = [Invitee.from_dict(i) for i in effect.payload["invitees"]]
        try:
            ready, missing = await self._addresses(invitees)
            if ready:
                await self.conferencing.invite(bridge.meeting, tuple(i.recipient() for i in ready))
        except DeliveryError as error:
            if not error.transient or effect.attempts >= self.max_attempts:
                await self._report(incident_id, "invite", f"invite-failed:{effect.id}", error)
            raise
        await self._invited(incident_id, effect, ready, missing)

    async def _invited(self, incident_id: int, effect: Effect, ready: list[Invitee], missing: list[Invitee]) -> None:
        now = self.deps.clock.now()
        actor = _actor(effect.payload)
        who = actor.name if actor and actor.name else "Someone"
        summary = f"{who} invited {describe(ready)} to the bridge"
        if missing:
            summary += f"; no email address for {describe(missing)}"
        async with self.deps.uow() as uow:
            row = await uow.bridges.row(incident_id)
            if row is not None:
                store.add_invited(row, ready, [i.recipient() for i in ready], now)
            await effects.record(uow, incident_id, "bridge_invited", summary, now, actor=actor,
                                 after={"invited": [i.email for i in ready],
                                        "not_invited": [i.label for i in missing]})
            await effects.thread_note(uow, incident_id, summary + ".", f"invited:{effect.id}", now)
            await effects.refresh_card(uow, incident_id, f"invited:{effect.id}", now)
            await uow.commit()

    async def _report(self, incident_id: int, what: str, key: str, error: DeliveryError) -> None:
        """A refusal other than the meeting's own: on the timeline and in the thread, with the fix."""
        now = self.deps.clock.now()
        async with self.deps.uow() as uow:
            await effects.record(uow, incident_id, f"bridge_{what}_failed", f"bridge {what} failed: {error}", now,
                                 after={"error": str(error), "status": error.status})
            await effects.thread_card(uow, incident_id, "failed", key, now, what=what, error=str(error)[:4000])
            await uow.commit()

    # -- ringing responders --------------------------------------------------------------------
    async def ring(self, effect: Effect) -> None:
        incident_id, payload = int(effect.payload["incident_id"]), effect.payload
        if self.calling is None:
            raise NotConfigured(f"{GRAPH} calling")
        targets = [CallTarget(t["aad_object_id"], t.get("name", "")) for t in payload["targets"]]
        tenant = str(payload.get("tenant_id") or "")
        if not tenant:
            async with self.deps.uow() as uow:
                thread = await uow.threads.get(incident_id)
            tenant = thread.tenant_id if thread else ""
        try:
            call_id = await self.calling.ring(subject=str(payload["subject"]), targets=tuple(targets),
                                              callback_uri=str(payload["callback_uri"]), tenant_id=tenant)
        except DeliveryError as error:
            if not error.transient or effect.attempts >= self.max_attempts:
                await self._report(incident_id, "ring", f"ring-failed:{effect.id}", error)
            raise
        now = self.deps.clock.now()
        actor = _actor(payload)
        names = ", ".join(t.name or t.aad_object_id for t in targets)
        async with self.deps.uow() as uow:
            await uow.bridges.add_call(incident_id, call_id, targets, payload.get("actor"), now)
            await effects.record(uow, incident_id, "call_started",
                                 f"{actor.name if actor and actor.name else 'Beacon'} rang {names} (Teams call)",
                                 now, actor=actor, after={"call_id": call_id, "targets": payload["targets"]})
            await uow.flush()
            await apply_held(uow, call_id, now)  # Graph's notifications that came before this answer
            await effects.refresh_card(uow, incident_id, f"call:{call_id}:started", now)
            await uow.commit()
