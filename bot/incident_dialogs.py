"""The incident card's forms in Teams dialogs: `task/fetch` opens the form for a verb, `task/submit`
checks it (shown again with every value and each problem beside its field) and applies it as the
card action would, once. The router has checked the policy and the card binding before this runs.

Cards posted before the dialogs carry the same forms inline, submitted by Action.Execute with the
same verbs: bot/card_actions.py still answers those.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from botbuilder.core import CardFactory, TurnContext
from botbuilder.schema.teams import (
    TaskModuleContinueResponse,
    TaskModuleMessageResponse,
    TaskModuleResponse,
    TaskModuleTaskInfo,
)

from bot import context as ctx
from bot.gate import optional_positive_id, positive_id
from bot.views import changed_meanwhile
from cards.incident_forms import FORM_FIELDS, FORM_TITLES, LEVEL_CHOICES, IncidentFormView, incident_form
from cards.updates import AUDIENCE_CHOICES
from services.deps import Deps
from services.incidents import DomainError, Incident, IncidentNotFound
from services.lifecycle import ALREADY_APPLIED, ActionOutcome, IncidentAction, act_on_incident
from services.verbs import VERB_OF, Verb

DIALOG_ID = re.compile(r"^[0-9a-f]{32}$")
LEVELS = {value for _, value in LEVEL_CHOICES}
AUDIENCES = {value for _, value in AUDIENCE_CHOICES}
REQUIRED = {"update": "Write the update.", "note": "Write the note.", "summary": "Say what fixed it.",
            "status": "Choose the new status.", "responders": "Choose at least one responder."}


def _response(view: IncidentFormView) -> TaskModuleResponse:
    info = TaskModuleTaskInfo(title=f"{FORM_TITLES[view.verb][0]}: {view.incident.label}", height="medium",
                              width="medium", card=CardFactory.adaptive_card(incident_form(view)))
    return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))


def _message(text: str) -> TaskModuleResponse:
    return TaskModuleResponse(task=TaskModuleMessageResponse(value=text))


def problems_of(verb: Verb, values: Mapping[str, str]) -> dict[str, str]:
    """Each field checked on its own; the domain checks the rest when the form is applied."""
    found = {key: REQUIRED[key] for key in FORM_FIELDS[verb] if key in REQUIRED and not values[key].strip()}
    if verb is Verb.POST_UPDATE and values["audience"] not in AUDIENCES:
        found["audience"] = "Choose who the update is for."
    for key in ("impact", "urgency"):
        if key in values and values[key] not in LEVELS:
            found[key] = f"Choose the {key}: high, medium or low."
    return found


def done_text(verb: Verb, outcome: ActionOutcome) -> str:
    incident = outcome.incident
    done = {Verb.POST_UPDATE: f"Update posted to {incident.label}.",
            Verb.STATUS: f"{incident.label} is now {incident.status.value}.",
            Verb.NOTE: f"Note added to {incident.label}.",
            Verb.ASSIGN: f"Responders assigned to {incident.label}.",
            Verb.REASSESS: f"{incident.label} is now {incident.priority}.",
            Verb.RESOLVE: f"{incident.label} is resolved."}[verb]
    lines = [done, *(f"• {route}" for route in outcome.routes)]
    if outcome.changed_meanwhile:
        heading, changes = changed_meanwhile(outcome)
        lines += [heading, *(f"• {change}" for change in changes)]
    elif outcome.notice:
        lines.append(outcome.notice)
    return "\n".join(lines)


class IncidentDialogs:
    def __init__(self, deps: Deps):
        self.deps = deps

    async def dialog(self, turn_context: TurnContext, data: dict[str, Any]) -> TaskModuleResponse:
        """A fetch reads the incident for its form; a submit is one unit of work: the form's own
        checks need the incident only when they find a problem, and a valid form goes straight to
        the use case a card click uses, whose outcome carries the incident to show again."""
        verb = VERB_OF.get(str(data.get("verb")))
        if verb not in FORM_FIELDS:
            return _message(f"Beacon has no form “{str(data.get('verb'))[:60]}”.")
        try:
            incident_id = positive_id(data.get("incidentId"), "incidentId")
            version = optional_positive_id(data.get("version"), "version")
        except ValueError as error:
            return _message(str(error))
        if turn_context.activity.name == "task/fetch":
            incident = await self._incident(incident_id)
            if incident is None:
                return _message(f"INC-{incident_id} does not exist.")
            return _response(IncidentFormView(verb, incident, version=version, dialog_id=uuid.uuid4().hex))
        return await self._submit(turn_context, verb, incident_id, version, data)

    async def _submit(self, turn_context: TurnContext, verb: Verb, incident_id: int, version: int | None,
                      data: dict[str, Any]) -> TaskModuleResponse:
        values = {key: str(data.get(key) or "") for key in FORM_FIELDS[verb]}
        dialog_id = str(data.get("dialogId") or "")
        dialog_id = dialog_id if DIALOG_ID.match(dialog_id) else uuid.uuid4().hex
        if problems := problems_of(verb, values):  # nobody is named yet: a missing choice is a problem
            incident = await self._incident(incident_id)
            if incident is None:
                return _message(f"INC-{incident_id} does not exist.")
            return _response(IncidentFormView(verb, incident, values, problems, version=version, dialog_id=dialog_id))
        # The dialog's own id names the change: a submit repeated (a double click, a retry) applies once.
        command = IncidentAction(verb=verb, incident_id=incident_id, shown_version=version, data=dict(values),
                                 actor=ctx.actor(turn_context.activity),
                                 activity_id=f"dialog:{incident_id}:{dialog_id}")
        try:
            outcome = await act_on_incident(command, self.deps)
        except IncidentNotFound as error:
            return _message(str(error))
        except DomainError as error:  # it kept changing under every attempt: rare, so read it once more
            incident = await self._incident(incident_id)
            if incident is None:
                return _message(f"INC-{incident_id} does not exist.")
            return _response(IncidentFormView(verb, incident, values, error=str(error), version=version,
                                              dialog_id=dialog_id))
        view = IncidentFormView(verb, outcome.incident, values, version=version, dialog_id=dialog_id,
                                people=[(person.name or key, key) for key, person in outcome.people.items()])
        if outcome.is_error:
            if outcome.field in values:
                return _response(_again(view, problems={outcome.field: outcome.notice}))
            return _response(_again(view, outcome_error=outcome.notice))
        if not outcome.applied and outcome.notice != ALREADY_APPLIED:  # the card was stale: look again
            changes = "; ".join(changed_meanwhile(outcome)[1])
            error = f"{outcome.notice} {changes}".strip()
            return _response(_again(view, outcome_error=error, version=outcome.incident.version))
        return _message(done_text(verb, outcome) if outcome.applied else ALREADY_APPLIED)

    async def _incident(self, incident_id: int) -> Incident | None:
        async with self.deps.uow() as uow:
            return await uow.incidents.get(incident_id)


def _again(view: IncidentFormView, *, outcome_error: str = "", problems: Mapping[str, str] | None = None,
           version: int | None = None) -> IncidentFormView:
    return IncidentFormView(view.verb, view.incident, view.values, dict(problems or {}), outcome_error,
                            view.version if version is None else version, view.dialog_id, view.people)
