"""Delivers Teams effects from the outbox: the incident thread's root card, its in-place updates
and the one-line notes in the thread. Runs in the outbox worker, never inside a Teams request."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiohttp
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from msrest.exceptions import ClientRequestError, HttpOperationError
from opentelemetry.trace import SpanKind

from bot.adapter import BeaconAdapter
from bot.views import incident_view, thread_link
from cards.elements import label
from cards.incident import incident_card
from cards.messages import declared_card
from cards.updates import message_card, notice_card, reminder_card, status_update_card
from services.comms.catch_up import FOLDED, fold_catch_up
from services.comms.messages import Message
from services.comms.teams_problems import REFUSALS, Refusal, channel_of, teams_refused
from services.comms.teams_turns import wait_for_turn
from services.comms.thread_notes import notes_together
from services.delivery import NotYet, PermanentDeliveryError, TransientDeliveryError, classify_status
from services.deps import Deps
from services.effects.teams import (
    PostCard,
    ReplaceForm,
    ResolvePeople,
    StakeholderPost,
    ThreadCard,
    ThreadCatchUp,
    ThreadNote,
    UpdateCard,
)
from services.incidents import Person
from services.outbox import Effect, EffectHandler, EffectHandlers
from services.pacing import Limit
from services.store.db import while_unavailable_retry
from services.tracing import span

log = logging.getLogger("beacon.teams")

# How often a post whose incident has no thread yet looks again. Posts behind a root card still
# being retried wait by their ordering key instead; this is for a root that failed for good.
THREAD_WAIT = 30.0
# What a send posts: the activity, or how to draw it once the conversation's turn has come (an
# incident card reads the incident; drawn before the turn, it would be drawn again each time
# Teams' limits send the post back to wait).
Drawn = Activity | Callable[[], Awaitable[Activity]]


async def drawn(activity: Drawn) -> Activity:
    return activity if isinstance(activity, Activity) else await activity()


def _reference(service_url: str, conversation_id: str, tenant_id: str, app_id: str) -> ConversationReference:
    return ConversationReference(
        channel_id="msteams", service_url=service_url,
        conversation=ConversationAccount(id=conversation_id, is_group=True, tenant_id=tenant_id or None),
        bot=ChannelAccount(id=f"28:{app_id}" if app_id else "beacon", name="Beacon"))


async def _connector_call(coro: Any, where: str = "") -> Any:
    """Run a Bot Connector call and turn its failures into delivery errors the outbox understands;
    `where` (the conversation) travels with the error, so a refusal can name it."""
    with span("Bot Connector", kind=SpanKind.CLIENT, **{"beacon.teams.conversation": where or None}):
        try:
            return await coro
        except HttpOperationError as error:
            response = getattr(error, "response", None)
            status = getattr(response, "status_code", 0) or 0
            retry_after = response.headers.get("Retry-After") if response is not None else None
            failure = classify_status(status, f"Bot Connector answered {status}: {error}", retry_after)
            failure.where = where
            raise failure from None
        except (TimeoutError, ClientRequestError, aiohttp.ClientError, ConnectionError) as error:
            raise TransientDeliveryError(f"Bot Connector unreachable: {error}", where=where) from None


def plain_text_message(text: str) -> Activity:
    """A message Teams shows as typed: `textFormat: plain` renders no Markdown, so a note such as
    "see [the runbook](https://evil.example)" stays text."""
    activity = MessageFactory.text(label(text))
    activity.text_format = "plain"
    return activity


async def _raise(error: BaseException) -> None:
    raise error


class TeamsPoster:
    def __init__(self, adapter: BeaconAdapter, deps: Deps, *, catch_up_after: timedelta | None = None,
                 limits: Sequence[Limit] = ()):
        self.adapter = adapter
        self.deps = deps
        self.limits = tuple(limits)  # Teams' per-conversation limits (TEAMS_CONVERSATION_LIMITS)
        # A thread post that waited longer than this for Teams becomes a catch-up (comms/catch_up.py).
        self.catch_up_after = catch_up_after or timedelta(minutes=15)
        # Channels refused for good by this process: a post that works there again clears the problem.
        self._refused: set[str] = set()
        # Called with each redrawn incident card, to redraw its copies elsewhere (bot/channels.py).
        self.also_redraw: list[Callable[[int, Activity], Awaitable[None]]] = []

    async def _turn(self, where: str) -> None:
        """Wait for the conversation's turn under Teams' limits (a channel and its threads are one)."""
        await wait_for_turn(self.deps.uow, self.deps.clock, channel_of(where), self.limits)

    async def _proactive(self, reference: ConversationReference, logic: Any, *, sends: bool = True) -> None:
        """continue_conversation, but failures reach the outbox: the SDK's pipeline would hand
        them to on_turn_error and return as if the post had been delivered. `sends`: the logic
        posts or edits (paced), rather than only reading members."""
        if sends:
            await self._turn(reference.conversation.id)
        failures: list[BaseException] = []

        async def guarded(turn_context: TurnContext) -> None:
            try:
                await logic(turn_context)
            except Exception as error:
                failures.append(error)

        where = reference.conversation.id
        await _connector_call(self.adapter.continue_conversation(reference, guarded,
                                                                 bot_app_id=self.adapter.app_id), where)
        if failures:
            await _connector_call(_raise(failures[0]), where)
        await self._worked(where)

    def handlers(self) -> EffectHandlers:
        return {kind: self.telling_refusals(handler) for kind, handler in {
            PostCard: self.post_card, UpdateCard: self.update_card,
            ThreadNote: self.catching_up(self.thread_note), ThreadCard: self.catching_up(self.thread_card),
            ThreadCatchUp: self.catch_up, StakeholderPost: self.stakeholder_post,
            ResolvePeople: self.resolve_people, ReplaceForm: self.replace_form}.items()}

    def catching_up(self, handler: EffectHandler) -> EffectHandler:
        """The handler, unless the post waited longer than TEAMS_CATCH_UP_AFTER for Teams: then it
        and the posts piled up behind it become one catch-up reply instead of a stale burst."""

        async def deliver(effect: Effect) -> None:
            stale = (effect.kind in FOLDED and effect.created_at is not None
                     and self.deps.clock.now() - effect.created_at > self.catch_up_after)
            await (self.catch_up(effect) if stale else handler(effect))

        return deliver

    async def catch_up(self, effect: Effect) -> None:
        """What changed since the first stale post was queued, as one plain reply in the thread.
        Folded again on each attempt, so posts queued while Teams stays away join it."""
        incident_id = int(effect.payload["incident_id"])
        since = (datetime.fromisoformat(effect.payload["since"]) if effect.payload.get("since")
                 else effect.created_at or self.deps.clock.now())
        async with self.deps.uow() as uow:
            text = await fold_catch_up(uow, effect.id, incident_id, since, self.deps.clock.now())
            await uow.commit()
        await self.reply_in_thread(incident_id, plain_text_message(text))

    def telling_refusals(self, handler: EffectHandler) -> EffectHandler:
        """The handler, but when Teams refuses the post for good (403, 404, 400) the incident admins
        hear of it by email and the doctor shows it (services/comms/teams_problems.py)."""

        async def deliver(effect: Effect) -> None:
            try:
                await handler(effect)
            except PermanentDeliveryError as error:
                if error.status in REFUSALS and error.where:
                    await self._tell_refusal(effect, error)
                raise

        return deliver

    async def _tell_refusal(self, effect: Effect, error: PermanentDeliveryError) -> None:
        channel = channel_of(error.where)
        self._refused.add(channel)

        async def tell() -> None:
            async with self.deps.uow() as uow:
                install = await uow.installations.of_channel(channel)
                refusal = Refusal(channel, int(error.status or 0), str(error), install.team_name if install else "")
                await teams_refused(uow, refusal, effect.incident_id, self.deps.config, self.deps.clock.now())
                await uow.commit()

        await while_unavailable_retry(tell, what=f"the Teams refusal of {channel}")

    async def _worked(self, where: str) -> None:
        """A post went through: a problem this process noted for the channel is over."""
        channel = channel_of(where)
        if channel not in self._refused:
            return
        self._refused.discard(channel)
        async with self.deps.uow() as uow:
            await uow.teams_problems.clear([channel])
            await uow.commit()

    async def card_activity(self, incident_id: int) -> Activity:
        """The incident card as it is now, as a message."""
        async with self.deps.uow() as uow:
            view = await incident_view(uow, incident_id, self.deps.view_extras, now=self.deps.clock.now(),
                                       admins=self.deps.config.roles.incident_admins)
        return MessageFactory.attachment(CardFactory.adaptive_card(incident_card(view)))

    async def post_card(self, effect: Effect) -> None:
        incident_id = int(effect.payload["incident_id"])
        async with self.deps.uow() as uow:
            if await uow.threads.get(incident_id):
                return  # posted by an earlier attempt whose completion was not recorded
        target = effect.payload["target"]
        if not target.get("service_url"):
            raise PermanentDeliveryError("Beacon is not installed in any team yet: add Beacon to a team")
        activity = partial(self.card_activity, incident_id)  # drawn once the turn has come
        if target.get("channel_id"):
            conversation_id, root_id = await self.new_channel_thread(target, activity)
        else:
            conversation_id, root_id = await self._post_in_chat(target, activity)
        await self.record_thread(incident_id, "incident", conversation_id, root_id, target)

    async def record_thread(self, incident_id: int, purpose: str, conversation_id: str, root_id: str,
                            target: dict[str, str]) -> None:
        """Note where a thread's root card went. Teams has it now: keep trying, or it is posted again."""

        async def record() -> None:
            async with self.deps.uow() as uow:
                await uow.threads.save(incident_id=incident_id, purpose=purpose, conversation_id=conversation_id,
                                      root_activity_id=root_id, service_url=target["service_url"],
                                      tenant_id=target.get("tenant_id", ""),
                                      channel_id=target.get("channel_id", ""))
                await uow.teams_problems.clear([channel_of(conversation_id)])  # posting there works
                await uow.commit()

        await while_unavailable_retry(record, what=f"the {purpose} thread of INC-{incident_id}")

    async def new_channel_thread(self, target: dict[str, str], activity: Drawn) -> tuple[str, str]:
        """Post `activity` as the root of a new thread in the target's channel: (conversation id, root id)."""
        created: dict[str, str] = {}

        async def capture(turn_context: TurnContext) -> None:
            created["conversation_id"] = turn_context.activity.conversation.id
            created["root_id"] = turn_context.activity.id

        await self._turn(target["channel_id"])
        params = ConversationParameters(is_group=True, channel_data={"channel": {"id": target["channel_id"]}},
                                        activity=await drawn(activity), tenant_id=target.get("tenant_id") or None)
        await _connector_call(self.adapter.create_conversation(
            self.adapter.app_id, capture, params, "msteams", target["service_url"], None), target["channel_id"])
        root_id = created["root_id"]
        conversation_id = created["conversation_id"]
        if ";messageid=" not in conversation_id:
            conversation_id = f"{target['channel_id']};messageid={root_id}"
        return conversation_id, root_id

    async def _post_in_chat(self, target: dict[str, str], activity: Drawn) -> tuple[str, str]:
        reference = _reference(target["service_url"], target["conversation_id"], target.get("tenant_id", ""),
                               self.adapter.app_id)
        sent: dict[str, str] = {}

        async def send(turn_context: TurnContext) -> None:  # runs once the chat's turn has come
            response = await turn_context.send_activity(await drawn(activity))
            sent["id"] = response.id if response else ""

        await self._proactive(reference, send)
        return target["conversation_id"], sent["id"]

    async def reply_in_thread(self, incident_id: int, activity: Activity, purpose: str = "incident") -> None:
        """Post an activity as a reply in one of the incident's threads (for every integration)."""

        async def reply(turn_context: TurnContext, root_id: str) -> None:
            await turn_context.send_activity(activity)

        await self.in_thread(incident_id, reply, purpose)

    async def in_thread(self, incident_id: int, logic: Any, purpose: str = "incident") -> None:
        async with self.deps.uow() as uow:
            thread = await uow.threads.get(incident_id, purpose)
        if thread is None:  # its root card has not gone out (yet): wait, do not fail
            raise NotYet(f"INC-{incident_id} has no {purpose} thread in Teams yet", retry_after=THREAD_WAIT)
        reference = _reference(thread.service_url, thread.conversation_id, thread.tenant_id,
                               self.adapter.app_id)

        async def run(turn_context: TurnContext) -> None:
            await logic(turn_context, thread.root_activity_id)

        await self._proactive(reference, run)

    async def update_card(self, effect: Effect) -> None:
        incident_id = int(effect.payload["incident_id"])
        async with self.deps.uow() as uow:
            if await uow.outbox.later_pending(effect.id, effect.kind, incident_id):
                return  # a later update renders the same current state: one PUT is enough
        redrawn: list[Activity] = []

        async def update(turn_context: TurnContext, root_id: str) -> None:  # the thread's turn has come
            activity = await self.card_activity(incident_id)
            activity.id = root_id
            redrawn.append(activity)
            await turn_context.update_activity(activity)

        await self.in_thread(incident_id, update)
        for redraw in self.also_redraw if redrawn else ():  # the card's other copies (an incident's own channel)
            await redraw(incident_id, redrawn[0])

    async def thread_card(self, effect: Effect) -> None:
        """A reminder, a status update or a notice, as a reply in the incident thread."""
        incident_id = int(effect.payload["incident_id"])
        activity = await self._plan_card(incident_id, effect.payload)
        await self.reply_in_thread(incident_id, activity)

    async def stakeholder_post(self, effect: Effect) -> None:
        """Stakeholder updates form one thread per incident in the stakeholder channel."""
        incident_id = int(effect.payload["incident_id"])
        activity = await self._plan_card(incident_id, effect.payload)
        async with self.deps.uow() as uow:
            existing = await uow.threads.get(incident_id, "stakeholders")
            own = await uow.threads.get(incident_id)
            install = None if own else await uow.installations.any_team()
        if existing is not None:
            await self.reply_in_thread(incident_id, activity, "stakeholders")
            return
        endpoint = effect.payload.get("endpoint") or {}
        if own or install:
            where = own or install
            endpoint = {"service_url": where.service_url, "tenant_id": where.tenant_id}  # type: ignore[union-attr]
        if not endpoint.get("service_url"):
            raise TransientDeliveryError("Beacon does not know this tenant's Teams endpoint yet")
        target = {"service_url": endpoint["service_url"], "tenant_id": endpoint.get("tenant_id", ""),
                  "channel_id": str(effect.payload["channel_id"])}
        conversation_id, root_id = await self.new_channel_thread(target, activity)

        async def record() -> None:
            async with self.deps.uow() as uow:
                await uow.threads.save(incident_id=incident_id, purpose="stakeholders",
                                      conversation_id=conversation_id, root_activity_id=root_id, **target)
                await uow.commit()

        await while_unavailable_retry(record, what=f"the stakeholder thread of INC-{incident_id}")

    async def _plan_card(self, incident_id: int, payload: dict[str, Any]) -> Activity:
        async with self.deps.uow() as uow:
            incident = await uow.incidents.get(incident_id)
        if incident is None:
            raise PermanentDeliveryError(f"INC-{incident_id} does not exist")
        kind = payload.get("card")
        if kind == "message" and payload.get("message"):  # one audience's message (services.comms.messages)
            card = message_card(Message.from_dict(dict(payload["message"])))
        elif kind == "reminder":
            card = reminder_card(incident.label, incident_id, payload, incident.next_update_due)
        elif kind == "status_update":
            commander = incident.commander
            backup = (commander.name, commander.user_id or commander.aad_object_id) if commander else None
            card = status_update_card(incident.label, payload, backup, incident.next_update_due)
        elif kind == "resolution":
            by = f" by {payload['by']}" if payload.get("by") else ""
            card = notice_card(f"{incident.label} resolved{by}", str(payload.get("text", "")))
        else:
            card = notice_card(f"{incident.label} · {incident.title}", str(payload.get("text", "")),
                               style="attention" if incident.priority in ("P1", "P2") else "emphasis")
        return MessageFactory.attachment(CardFactory.adaptive_card(card))

    async def resolve_people(self, effect: Effect) -> None:
        """Learn names of people picked by AAD id from Teams' roster, then refresh the card."""
        incident_id = int(effect.payload["incident_id"])
        async with self.deps.uow() as uow:
            thread = await uow.threads.get(incident_id)
        if thread is None:
            raise NotYet(f"INC-{incident_id} has no thread in Teams yet", retry_after=THREAD_WAIT)
        roster = thread.channel_id or thread.conversation_id
        reference = _reference(thread.service_url, roster, thread.tenant_id, self.adapter.app_id)
        found: list[Person] = []

        async def look_up(turn_context: TurnContext) -> None:
            turn_context.activity.channel_data = {}  # TeamsInfo reads it; a continuation has none
            for aad in effect.payload["ids"]:
                try:
                    member = await TeamsInfo.get_member(turn_context, aad)
                except HttpOperationError as error:
                    if getattr(error.response, "status_code", 0) == 404:
                        log.info("INC-%s: %s is not a member of the conversation", incident_id, aad)
                        continue
                    raise
                found.append(Person(aad, member.name or "", member.id))

        await self._proactive(reference, look_up, sends=False)
        async with self.deps.uow() as uow:
            await uow.people.remember(found, self.deps.clock.now())
            await uow.commit()
        if found:
            await self.update_card(effect)

    async def thread_note(self, effect: Effect) -> None:
        """A note in the incident thread, with the notes queued behind it (services/comms/thread_notes.py).
        Gathered on every attempt, before the Bot Connector call: a note sent back until its turn
        under Teams' limits gathers again when it comes, with the notes queued meanwhile."""
        async with self.deps.uow() as uow:
            text = await notes_together(uow, effect, self.deps.clock.now())
            await uow.commit()
        await self.reply_in_thread(int(effect.payload["incident_id"]), plain_text_message(text))

    async def replace_form(self, effect: Effect) -> None:
        """The used declare form, for everyone: what it became, with a link to the incident's thread
        (posted before this, on the same ordering key)."""
        payload = effect.payload
        async with self.deps.uow() as uow:
            link = thread_link(await uow.threads.get(int(payload["incident_id"])))
        activity = MessageFactory.attachment(CardFactory.adaptive_card(declared_card(str(payload["text"]), link)))
        reference = _reference(str(payload["service_url"]), str(payload["conversation_id"]),
                               str(payload.get("tenant_id") or ""), self.adapter.app_id)

        async def replace(turn_context: TurnContext) -> None:
            activity.id = str(payload["activity_id"])
            await turn_context.update_activity(activity)

        await self._proactive(reference, replace)
