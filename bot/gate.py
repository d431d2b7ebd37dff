"""The one authorisation check of every card action, before any handler: who sent it (the
authenticated sender, as the roster knows them), what it is about (read from the database, never
trusted from card data), and the policy table's answer. A refusal is recorded on the incident's
timeline and answered with the reason."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from botbuilder.core import TurnContext

from bot import context as ctx
from bot.card_ledger import BOUND
from services.bridge.plan import EXTRA_INPUT
from services.deps import Deps
from services.incidents import TimelineEvent
from services import roster
from services.policy import POLICY, Sender, Subject, decide, may_invite_outside
from services.roster import Where
from services.store.uow import UnitOfWork
from services.verbs import Verb

log = logging.getLogger("beacon.bot")

NO_SUBJECT = frozenset({Verb.DECLARE_FORM, Verb.DECLARE_SUBMIT,
                        *(v for v in Verb if v.value.startswith(("oncall.", "report.")))})
OUTSIDE_REFUSAL = "only responders can invite addresses outside the directory to a bridge"


class Membership(Protocol):
    """Tells a guest or an unknown person from a member of the organisation."""

    async def sender(self, turn_context: TurnContext, uow: UnitOfWork) -> Sender: ...


@dataclass(frozen=True)
class Refusal:
    reason: str
    code: str = "Forbidden"  # the Universal Action error code Teams is answered with

    @property
    def message(self) -> str:
        return self.reason if self.code == MISMATCH else f"Not allowed: {self.reason}."


MISMATCH = "BadRequest"


def positive_id(value: object, field: str) -> int:
    """An id or version a card or dialog sends back (a number from 1 to 2**31 - 1, as a number or
    as text); ValueError naming the field otherwise."""
    text = str(value if value is not None else "").strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**31:
        raise ValueError(f"{field} must be a number")
    return int(text)


def optional_positive_id(value: object, field: str) -> int | None:
    """The same, for what a card may leave out (a card's version): None when it is absent."""
    return None if value is None else positive_id(value, field)


class Gate:
    def __init__(self, deps: Deps, membership: Membership):
        self.deps, self.membership = deps, membership

    async def check(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Refusal | None:
        """None when the sender may do this; else the refusal (already on the timeline)."""
        async with self.deps.uow() as uow:  # one read for who is asking and what it is about
            return await self.check_within(uow, turn_context, verb, data)

    async def check_within(self, uow: UnitOfWork, turn_context: TurnContext, verb: Verb,
                           data: dict[str, Any]) -> Refusal | None:
        """The same in the caller's unit of work (a card click's, which goes on to the action when
        this allows it). A refusal is committed there, on the incident's timeline."""
        rule = POLICY[verb]
        sender = await self.membership.sender(turn_context, uow)
        if verb in NO_SUBJECT:
            reason = decide(verb, sender, Subject(), self.deps.config)
            if reason:
                log.info("refused %s to %s: %s", verb, sender.person.aad_object_id, reason)
            return Refusal(reason) if reason else None
        named, subject = await self._subject(uow, verb, data)
        if subject.incident is not None and (mismatch := await self._unbound(uow, turn_context, named)):
            return mismatch
        reason = decide(verb, sender, subject, self.deps.config)
        if not reason and rule.outside_addresses and str(data.get(EXTRA_INPUT) or "").strip() \
                and not may_invite_outside(sender, subject, self.deps.config):
            reason = OUTSIDE_REFUSAL
        if not reason:
            return None
        await self._record(uow, verb, sender, subject, reason, turn_context.activity.id or "")
        return Refusal(reason)

    async def _unbound(self, uow: UnitOfWork, turn_context: TurnContext, named: int | None) -> Refusal | None:
        """A click (an invoke from a card) must name the incident whose card was clicked: the
        message it came from, or the incident thread it sits in. Messages outside every incident
        (a form, a chat with Beacon) bind nothing."""
        activity = turn_context.activity
        if activity.type != "invoke" or named is None:
            return None
        conversation = activity.conversation.id if activity.conversation else ""
        bound = await uow.threads.incident_of_message(conversation or "", activity.reply_to_id or "")
        turn_context.turn_state[BOUND] = bound
        if bound is None or bound == named:
            return None
        log.warning("refused a click on INC-%s's card whose data names INC-%s", bound, named)
        return Refusal(f"This card belongs to INC-{bound}, but its action names INC-{named}: nothing was "
                       f"changed. Use INC-{named}'s own card.", MISMATCH)

    async def _subject(self, uow: UnitOfWork, verb: Verb, data: dict[str, Any]) -> tuple[int | None, Subject]:
        """The incident the card data names, and what the policy needs to know about it."""
        owner_aad = owner_email = ""
        if verb is Verb.REVIEW_ACTION_COMPLETE:
            item = await uow.reviews.action(positive_id(data.get("actionId"), "actionId"))
            if item is None:
                return None, Subject()
            incident_id, owner_aad = item.incident_id, item.owner_aad
        else:
            incident_id = positive_id(data.get("incidentId"), "incidentId")
            if verb.value.startswith("review."):
                report = await uow.reviews.report(incident_id)
                if report is not None:
                    owner_aad, owner_email = report.owner_aad, report.owner_email
        incident = await uow.incidents.get(incident_id)
        commander = incident.commander if incident else None
        if commander is not None and not commander.name:  # picked by id: its name is learnt later
            known = await uow.people.named([commander.aad_object_id])
            commander = known.get(commander.aad_object_id, commander)
        return incident_id, Subject(incident, owner_aad, owner_email, commander.name if commander else "")

    async def _record(self, uow: UnitOfWork, verb: Verb, sender: Sender, subject: Subject, reason: str,
                      activity_id: str) -> None:
        incident = subject.incident
        log.info("refused %s to %s: %s", verb, sender.person.aad_object_id, reason)
        if incident is None or incident.id is None:
            return
        if activity_id and await uow.activities.was_processed(activity_id):
            return  # a replayed click was recorded the first time
        now = self.deps.clock.now()
        who = sender.person.name or "someone"
        await uow.timeline.record(incident.id, TimelineEvent(
            "refused", now, sender.person, f"refused: {who} tried to {POLICY[verb].what} {incident.label}: {reason}"),
            incident.version)
        if activity_id:
            await uow.activities.mark_processed(activity_id, incident.id, now)
        await uow.commit()


class RosterMembership:
    """Standing from the team roster Beacon keeps (services/roster.py): a database read, never a
    call to Teams; an unknown sender is looked up in the background."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def sender(self, turn_context: TurnContext, uow: UnitOfWork) -> Sender:
        activity = turn_context.activity
        conversation = (activity.conversation.id if activity.conversation else "").partition(";messageid=")[0]
        where = Where(ctx.team_id(activity), conversation, ctx.tenant_id(activity), activity.service_url or "")
        return await roster.sender(uow, self.deps.clock, ctx.actor(activity), where)
