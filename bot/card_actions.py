"""Action.Execute (`adaptiveCard/action`) routing: a verb table, and one card in every answer.

No outside call happens here: the use case writes the change and its outbox rows, and the
answer is built from the database, so the button feels instant.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext

from bot import context as ctx
from bot.gate import Gate, Membership, Refusal, RosterMembership, optional_positive_id, positive_id
from bot.mentions import reader_zone_name
from bot.views import changed_meanwhile, view_of
from cards import strings
from cards.elements import Json
from cards.forms import DeclareForm, SimilarOffer, declare_form
from cards.incident import incident_card
from cards.incident_parts import span
from cards.messages import declared_card
from services.declaring import (
    Declared,
    DeclareIncident,
    FormMessage,
    SimilarIncidentOpen,
    declare_incident,
    declared_text,
    joined_text,
)
from services.deps import Deps
from services.incidents import DomainError, Incident, IncidentNotFound
from services.lifecycle import FORM_USED, ActionOutcome, IncidentAction, act_on_incident, act_within, retrying_races
from services.store.uow import UnitOfWork
from services.verbs import INCIDENT_VERBS, VERB_OF, Verb

log = logging.getLogger("beacon.bot")
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
ERROR_TYPE = "application/vnd.microsoft.error"


def adaptive_card_response(card: Json) -> InvokeResponse:
    return InvokeResponse(status=200, body={"statusCode": 200, "type": CARD_TYPE, "value": card})


class CardRefused(Exception):
    """A click on the incident card that names nothing Beacon can act on: answered with a Universal
    Action error, so the clicker keeps their card and its buttons."""


def error_response(message: str, code: str = "Forbidden", status: int = 400) -> InvokeResponse:
    """A Universal Action error: Teams tells the clicker and keeps the card as it was (its buttons
    too), where an error card would replace it for them."""
    return InvokeResponse(status=200, body={"statusCode": status, "type": ERROR_TYPE,
                                            "value": {"code": code, "message": message}})


async def declare_from_form(turn_context: TurnContext, data: dict[str, Any], source: str, deps: Deps,
                            gate: Gate | None, form_message: FormMessage | None = None) -> Declared | DeclareForm:
    """Declare from submitted form values: the incident, or the form again with its error (a
    dialog or a message action has no card to keep, so a refusal is shown on the form too), or
    with the open incident that looks like this one, offered first. The card-action router checked
    the policy already and passes no gate."""
    activity = turn_context.activity
    refusal = await gate.check(turn_context, Verb.DECLARE_SUBMIT, data) if gate is not None else None
    if refusal is not None:
        return DeclareForm.from_values(data, error=refusal.message)
    command = DeclareIncident(form=data, actor=ctx.actor(activity), source=source,
                              target=ctx.thread_target(activity, deps.config), zone=reader_zone_name(activity),
                              form_message=form_message, offer_similar=not _chosen(data.get("declareAnyway")))
    try:
        return await declare_incident(command, deps)
    except SimilarIncidentOpen as similar:
        return DeclareForm.from_values(data, similar=await _offer(deps, similar.incident))
    except DomainError as error:
        return DeclareForm.from_values(data, error=str(error))


def _chosen(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes", "on")


async def _offer(deps: Deps, incident: Incident) -> SimilarOffer:
    commander = incident.commander
    if commander is not None and not commander.name:
        async with deps.uow() as uow:
            commander = (await uow.people.named([commander.aad_object_id])).get(commander.aad_object_id, commander)
    assert incident.id is not None
    return SimilarOffer(incident.id, incident.label, incident.title, incident.service,
                        commander.name if commander else "", span(deps.clock.now() - incident.declared_at))


def form_message(turn_context: TurnContext) -> FormMessage | None:
    """The chat message an Action.Execute came from (the form), when Teams said which."""
    activity = turn_context.activity
    if not activity.reply_to_id or activity.conversation is None:
        return None
    return FormMessage(activity.service_url or "", activity.conversation.id, activity.reply_to_id,
                       ctx.tenant_id(activity))


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


CardRoute = Callable[[TurnContext, Verb, dict[str, Any]], Awaitable[Json]]


class CardActions:
    def __init__(self, deps: Deps, membership: Membership | None = None):
        self.deps = deps
        self.gate = Gate(deps, membership or RosterMembership(deps))
        self._routes: dict[Verb, CardRoute] = {
            Verb.DECLARE_FORM: self._declare_form,
            Verb.DECLARE_SUBMIT: self._declare_submit,
            Verb.DECLARE_JOIN: self._declare_join,
        }

    def register(self, verb: Verb, route: CardRoute) -> None:
        """Integrations (bridge, intake) add their verbs; each answers with the card to show."""
        self._routes[verb] = route

    async def handle(self, turn_context: TurnContext) -> InvokeResponse:
        value = _mapping(turn_context.activity.value)
        action = _mapping(value.get("action"))
        data = _mapping(action.get("data"))
        sent = str(action.get("verb"))
        verb = VERB_OF.get(sent)
        unknown = error_response(f"Unknown action “{sent[:60]}”: Beacon has no such button on this card.",
                                 "BadRequest")
        if verb is None:
            return unknown
        if verb in INCIDENT_VERBS:
            return await self._incident_click(turn_context, verb, data)
        try:
            refusal: Refusal | None = await self.gate.check(turn_context, verb, data)
        except ValueError as error:  # malformed card data
            return error_response(str(error), "BadRequest")
        if refusal is not None:
            return error_response(refusal.message, refusal.code)
        route = self._routes.get(verb)
        if route is None:  # a dialog's verb, not a card action
            return unknown
        return await _answering(verb, self._card_of(route, turn_context, verb, data))

    @staticmethod
    async def _card_of(route: CardRoute, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> InvokeResponse:
        return adaptive_card_response(await route(turn_context, verb, data))

    async def _declare_form(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        return declare_form(DeclareForm.from_values(data), self.deps.config, dialog=False)

    async def _declare_submit(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        result = await declare_from_form(turn_context, data, "chat", self.deps, None, form_message(turn_context))
        if isinstance(result, DeclareForm):
            return declare_form(result, self.deps.config, dialog=False)
        if result.again:
            return declared_card(strings.FORM_ALREADY_USED.format(text=f"{result.incident.label} · "
                                                                       f"{result.incident.title}"))
        return declared_card(declared_text(result.incident))

    async def _declare_join(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        """"Join INC-3 instead" on a declare form in chat: the form is used, as if it had declared."""
        outcome = await self._join(turn_context, data, form_message(turn_context))
        if isinstance(outcome, DeclareForm):
            return declare_form(outcome, self.deps.config, dialog=False)
        return declared_card(outcome)

    async def join_from_dialog(self, turn_context: TurnContext, data: dict[str, Any]) -> DeclareForm | str:
        """The same from the declare dialog (no message to replace): what to tell the joiner."""
        refusal = await self.gate.check(turn_context, Verb.DECLARE_JOIN, data)
        if refusal is not None:
            return DeclareForm.from_values(data, error=refusal.message)
        return await self._join(turn_context, data, None)

    async def _join(self, turn_context: TurnContext, data: dict[str, Any],
                    form: FormMessage | None) -> DeclareForm | str:
        incident_id = positive_id(data.get("incidentId"), "incidentId")
        actor = ctx.actor(turn_context.activity)
        command = IncidentAction(verb=Verb.DECLARE_JOIN, incident_id=incident_id, shown_version=None, data=data,
                                 actor=actor, activity_id=turn_context.activity.id or "", form_message=form)
        try:
            outcome = await act_on_incident(command, self.deps)
        except IncidentNotFound as error:
            return DeclareForm.from_values(data, error=str(error))
        if outcome.is_error:
            return DeclareForm.from_values(data, error=outcome.notice)
        if outcome.notice == FORM_USED:
            return strings.FORM_ALREADY_USED.format(text=f"{outcome.incident.label} · {outcome.incident.title}")
        return joined_text(outcome.incident, actor)

    async def _incident_click(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> InvokeResponse:
        """A button on the incident card, in one unit of work: the gate, the action and the card
        the clicker sees next. A lost race (PostgreSQL) tries all three again. The card is read
        before the commit where the change holds the one writer's turn anyway (SQLite: on its
        connection, and clicks keep their order, which halved the p99's excess in bench.card_actions),
        after it where the change holds the incident's row lock (PostgreSQL: other clicks wait)."""
        async def attempt(uow: UnitOfWork) -> InvokeResponse:
            refusal = await self.gate.check_within(uow, turn_context, verb, data)
            if refusal is not None:
                return error_response(refusal.message, refusal.code)
            try:
                command = IncidentAction(
                    verb=verb, incident_id=positive_id(data.get("incidentId"), "incidentId"),
                    shown_version=optional_positive_id(data.get("version"), "version"),
                    data=data, actor=ctx.actor(turn_context.activity), activity_id=turn_context.activity.id or "")
                outcome = await act_within(uow, command, self.deps)
            except (IncidentNotFound, ValueError) as error:  # the card names no incident Beacon can act on
                raise CardRefused(str(error)) from None
            commit_first = outcome.applied and not uow.writes_one_at_a_time
            if commit_first:
                await uow.commit()
            (notice, lines), *more = _notices(outcome) or [("", ())]
            view = await view_of(
                uow, outcome.incident, self.deps.view_extras, notice=notice, notice_lines=lines,
                is_error=outcome.is_error, now=self.deps.clock.now(), viewer=command.actor,
                admins=self.deps.config.roles.incident_admins, more_notices=tuple(more))
            if outcome.applied and not commit_first:
                await uow.commit()
            return adaptive_card_response(incident_card(view))

        return await _answering(verb, retrying_races(self.deps, attempt))


async def _answering(verb: Verb, answer: Awaitable[InvokeResponse]) -> InvokeResponse:
    """A card action's answer; a refusal (bad card data, a rule of the incident) as a Universal
    Action error, so the clicker keeps their card; anything else as a server error, logged."""
    try:
        return await answer
    except (CardRefused, DomainError, ValueError) as error:  # refused: the clicker keeps their card
        return error_response(str(error), "BadRequest")
    except Exception:
        log.exception("card action %s failed", verb)
        return error_response("Beacon could not complete that action. Try again in a moment.",
                              "InternalServerError", 500)


def _notices(outcome: ActionOutcome) -> list[tuple[str, tuple[str, ...]]]:
    """What the clicker is told above the card, as headed lists: an error; else a stakeholder
    update's routes (the answer to a Universal Action refreshes the card for its clicker alone),
    then what changed since their card; else the outcome's own notice."""
    if outcome.is_error:
        return [(outcome.notice, ())]
    told = [(strings.UPDATE_ROUTES, outcome.routes)] if outcome.routes else []
    if outcome.changed_meanwhile:
        return [*told, changed_meanwhile(outcome)]
    return told or ([(outcome.notice, ())] if outcome.notice else [])
