"""The bridge in Teams: card routes (Start bridge, Invite more, Ring responders), the outbox
handlers that call Graph and post in the thread, POST /api/calls, and the incident card's bridge
lines. `wire_bridge` plugs it all in; it runs after wire_graph_and_sms, whose adapters it uses."""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web
from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot import context as ctx
from bot.adapter import json_error
from bot.poster import TeamsPoster
from bot.views import view_of
from bot.wiring import Wiring
from cards import bridge as cards
from cards.elements import Json
from cards.incident import ViewExtras, incident_card
from services.bridge.model import BridgeState
from services.bridge import effects
from services.bridge.callauth import CallNotificationAuth
from services.bridge.calls import NotificationRejected, apply_held, apply_notifications, parse_notifications
from services.bridge.delivery import BridgeDelivery, PeopleDirectory
from services.bridge.usecases import (
    BridgeCommand,
    BridgeSetup,
    BridgeSituation,
    bridge_situation,
    invite_more,
    ring_responders,
    start_bridge,
)
from services.delivery import PermanentDeliveryError
from services.deps import Deps
from services.graph import GraphSettings
from services.incidents import DomainError, Incident, ValidationFailed
from services.outbox import Effect
from services.store.uow import UnitOfWork
from services.verbs import Verb

MAX_NOTIFICATION_BYTES = 256 * 1024


def _incident_id(data: dict[str, Any]) -> int:
    value = data.get("incidentId")
    if isinstance(value, bool) or not str(value or "").isdigit() or not 0 < int(str(value)) < 2**31:
        raise ValueError("incidentId must be a number")
    return int(str(value))


async def bridge_extras(uow: UnitOfWork, incident: Incident, setup_problem: str = "") -> ViewExtras:
    if incident.id is None:
        return ViewExtras()
    found = await uow.bridges.get(incident.id)
    if found is None and incident.drill:
        return ViewExtras()  # drills never reach outside parties
    # The card shows a call only on a bridge whose meeting exists: no read for it otherwise.
    live = found is not None and found.state is BridgeState.CREATED
    return cards.incident_extras(found, await uow.bridges.latest_call(incident.id) if live else None, setup_problem)


class BridgeRoutes:
    def __init__(self, deps: Deps, setup: BridgeSetup, poster: TeamsPoster, auth: CallNotificationAuth):
        self.deps, self.setup, self.poster, self.auth = deps, setup, poster, auth

    def _command(self, turn_context: TurnContext, data: dict[str, Any]) -> BridgeCommand:
        activity = turn_context.activity
        return BridgeCommand(incident_id=_incident_id(data), actor=ctx.actor(activity), form=data,
                             activity_id=activity.id or "", tenant_id=ctx.tenant_id(activity))

    async def _current(self, command: BridgeCommand) -> BridgeSituation:
        return await bridge_situation(command.incident_id, command.actor, self.deps)

    # -- card actions (answer within the invoke; Graph work goes to the outbox) ------------------
    async def form(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        situation = await self._current(self._command(turn_context, data))
        if situation.bridge is not None and situation.bridge.state.is_live:
            return cards.bridge_card(situation, self.setup)
        return cards.picker_card(situation, self.setup)

    async def start(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        command = self._command(turn_context, data)
        try:
            situation = await start_bridge(command, self.deps)
        except ValidationFailed as error:
            return cards.picker_card(await self._current(command), self.setup, form=data, error=str(error))
        if not situation.queued:  # a second click, a replay, or someone else was first
            return cards.bridge_card(situation, self.setup, notice=cards.EXISTS)
        async with self.deps.uow() as uow:
            view = await view_of(uow, situation.incident, self.deps.view_extras, notice=cards.CREATING,
                                 now=self.deps.clock.now(), viewer=command.actor,
                                 admins=self.deps.config.roles.incident_admins)
        return incident_card(view)

    async def invite(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        command = self._command(turn_context, data)
        try:
            situation = await invite_more(command, self.deps)
        except DomainError as error:
            return cards.bridge_card(await self._current(command), self.setup, error=str(error))
        notice = cards.INVITING.format(names=situation.notice) if situation.queued else ""
        return cards.bridge_card(situation, self.setup, notice=notice)

    async def ring(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        command = self._command(turn_context, data)
        try:
            situation = await ring_responders(command, self.deps, self.setup)
        except DomainError as error:
            return cards.bridge_card(await self._current(command), self.setup, error=str(error))
        notice = cards.RINGING.format(names=situation.notice) if situation.queued else ""
        return cards.bridge_card(situation, self.setup, notice=notice)

    # -- the thread (outbox) -------------------------------------------------------------------
    async def thread_card(self, effect: Effect) -> None:
        incident_id, payload = int(effect.payload["incident_id"]), effect.payload
        async with self.deps.uow() as uow:
            incident = await uow.incidents.get(incident_id)
            found = await uow.bridges.get(incident_id)
        if incident is None:
            raise PermanentDeliveryError(f"INC-{incident_id} does not exist")
        kind = payload.get("card")
        if kind == "join":
            if found is None or found.meeting is None:
                return  # the meeting is gone (a later retry failed): nothing to join
            card = cards.join_card(incident, found)
        elif kind == "failed":
            card = cards.failure_card(incident, str(payload.get("what") or "create"), str(payload.get("error") or ""))
        elif kind == "not_configured":
            card = cards.not_configured_card(incident, str(payload.get("reason") or ""))
        else:
            raise PermanentDeliveryError(f"unknown bridge card {str(kind)[:40]!r}")
        await self.poster.reply_in_thread(incident_id, MessageFactory.attachment(CardFactory.adaptive_card(card)))

    # -- POST /api/calls -------------------------------------------------------------------------
    async def calls(self, request: web.Request) -> web.Response:
        problem = await self.auth.problem(request.headers.get("Authorization", ""))
        if problem:
            return json_error(401, problem)
        body = await _read_json(request)
        if isinstance(body, web.Response):
            return body
        try:
            notifications = parse_notifications(body)
            async with self.deps.uow() as uow:
                applied = await apply_notifications(uow, notifications, self.deps.clock.now())
                await uow.commit()
        except NotificationRejected as error:
            return json_error(error.status, str(error))
        recorded = applied.recorded
        for call_id in applied.held:
            # The call may have been stored while these were held: its delivery then missed them.
            async with self.deps.uow() as uow:
                recorded += await apply_held(uow, call_id, self.deps.clock.now())
                await uow.commit()
        return web.json_response({"accepted": len(notifications), "recorded": recorded,
                                  "held": len(applied.held)}, status=202)


async def _read_json(request: web.Request) -> Any:
    kind = request.content_type  # the media type alone: "text/plain; x=application/json" is not JSON
    if kind != "application/json" and not kind.endswith("+json"):
        return json_error(415, "Content-Type must be application/json")
    too_big = json_error(413, f"notification larger than {MAX_NOTIFICATION_BYTES} bytes")
    if request.content_length is not None and request.content_length > MAX_NOTIFICATION_BYTES:
        return too_big
    try:
        # The whole body: content.read(n) returns whatever has arrived so far, maybe a first chunk.
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # a chunked body over the app's client_max_size
        return too_big
    except web.RequestPayloadError as error:  # e.g. Content-Encoding: gzip over bytes that are not gzip
        return json_error(400, f"the body could not be read: {getattr(error.__cause__, 'message', error)}"[:300])
    if len(raw) > MAX_NOTIFICATION_BYTES:
        return too_big
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # also too deep, or a huge number
        return json_error(400, f"body is not valid JSON: {str(error)[:200]}")


def bridge_setup(wiring: Wiring) -> BridgeSetup:
    graph = wiring.graph
    if graph is None:  # wire_graph_and_sms builds no adapters without Graph settings
        missing = "; ".join((wiring.outside.graph or GraphSettings()).missing()) or "Graph adapters not built"
        reasons = {"conferencing": missing, "calling": missing}
    else:
        reasons = graph.not_configured
    return BridgeSetup(conferencing_problem=reasons.get("conferencing", ""),
                       calling_problem=reasons.get("calling", ""), public_url=wiring.settings.public_url)


def _people(wiring: Wiring) -> PeopleDirectory | None:
    if wiring.graph is None or wiring.graph.connection is None:
        return None
    from services.bridge.people import GraphPeople  # msgraph-sdk only when Graph is configured

    return GraphPeople(wiring.graph.connection.client)


def wire_bridge(wiring: Wiring) -> None:
    """Bridge calls through Microsoft Graph: a Teams meeting per incident, ringing responders."""
    setup = bridge_setup(wiring)
    graph = wiring.graph
    delivery = BridgeDelivery(wiring.deps, graph.conferencing if graph else None, graph.calling if graph else None,
                              _people(wiring), setup, wiring.settings.outbox_max_attempts)
    routes = BridgeRoutes(wiring.deps, setup, wiring.poster or TeamsPoster(wiring.adapter, wiring.deps),
                          CallNotificationAuth(wiring.settings.app_id))
    wiring.handlers.update({effects.CreateMeeting: delivery.create, effects.Invite: delivery.invite,
                            effects.Ring: delivery.ring, effects.BridgeThreadCard: routes.thread_card})
    for verb, route in ((Verb.BRIDGE_FORM, routes.form), (Verb.BRIDGE_START, routes.start),
                        (Verb.BRIDGE_INVITE, routes.invite), (Verb.BRIDGE_RING, routes.ring)):
        wiring.card_actions.register(verb, route)
    wiring.app.router.add_post("/api/calls", routes.calls)
    wiring.deps.view_extras.append(functools.partial(bridge_extras, setup_problem=setup.conferencing_problem))
    if not setup.calling_problem and not setup.callback_uri:
        wiring.not_configured.append("Ringing responders not configured: BEACON_PUBLIC_URL is empty, so Graph "
                                     "has nowhere to report calls (https://<BEACON_PUBLIC_URL>/api/calls)")
