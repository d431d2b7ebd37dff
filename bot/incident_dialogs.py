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
from bot.card_actions import _int
from cards.incident_forms import FORM_FIELDS, FORM_TITLES, LEVEL_CHOICES, IncidentFormView, incident_form
from cards.updates import AUDIENCE_CHOICES
from services.deps import Deps
from services.incidents import DomainError, Incident, IncidentNotFound
from services.lifecycle import ALREADY_APPLIED, ActionOutcome, IncidentAction, act_on_incident
from services.verbs import Verb

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
    if outcome.notice:
        lines.append(outcome.notice)
    return "\n".join(lines)


class IncidentDialogs:
    def __init__(self, deps: Deps):
        self.deps = deps

    async def dialog(self, turn_context: TurnContext, data: dict[str, Any]) -> TaskModuleResponse:
        activity = turn_context.activity
        verb = Verb(str(data.get("verb")))
        try:
            incident_id = _int(data.get("incidentId"), "incidentId")
            version = _int(data.get("version"), "version", optional=True)
        except ValueError as error:
            return _message(str(error))
        assert incident_id is not None
        async with self.deps.uow() as uow:
            incident = await uow.incidents.get(incident_id)
        if incident is None:
            return _message(f"INC-{incident_id} does not exist.")
        if activity.name == "task/fetch":
            return _response(IncidentFormView(verb, incident, version=version, dialog_id=uuid.uuid4().hex))
        values = {key: str(data.get(key) or "") for key in FORM_FIELDS[verb]}
        dialog_id = str(data.get("dialogId") or "")
        dialog_id = dialog_id if DIALOG_ID.match(dialog_id) else uuid.uuid4().hex
        view = IncidentFormView(verb, incident, values, version=version, dialog_id=dialog_id,
                                people=await self._people(values))
        if problems := problems_of(verb, values):
            return _response(_again(view, problems=problems))
        # The dialog's own id names the change: a submit repeated (a double click, a retry) applies once.
        command = IncidentAction(verb=verb, incident_id=incident_id, shown_version=version, data=dict(values),
                                 actor=ctx.actor(activity), activity_id=f"dialog:{incident_id}:{dialog_id}")
        try:
            outcome = await act_on_incident(command, self.deps)
        except IncidentNotFound as error:
            return _message(str(error))
        except DomainError as error:
            return _response(_again(view, outcome_error=str(error)))
        if outcome.is_error:
            if outcome.field in values:
                return _response(_again(view, problems={outcome.field: outcome.notice}))
            return _response(_again(view, outcome_error=outcome.notice))
        if not outcome.applied and outcome.notice != ALREADY_APPLIED:  # the card was stale: look again
            changes = "; ".join(outcome.changed_meanwhile)
            error = f"{outcome.notice} {changes}".strip()
            return _response(_again(view, outcome_error=error, incident=outcome.incident,
                                    version=outcome.incident.version))
        return _message(done_text(verb, outcome) if outcome.applied else ALREADY_APPLIED)

    async def _people(self, values: Mapping[str, str]) -> list[tuple[str, str]]:
        """The people already chosen, by name, so a form shown again names them."""
        ids = [v.strip() for v in values.get("responders", "").split(",") if v.strip()][:25]
        if not ids:
            return []
        async with self.deps.uow() as uow:
            named = await uow.people.named(ids)
        return [(person.name or person_id, person_id) for person_id, person in named.items()]


def _again(view: IncidentFormView, *, outcome_error: str = "", problems: Mapping[str, str] | None = None,
           incident: Incident | None = None, version: int | None = None) -> IncidentFormView:
    return IncidentFormView(view.verb, incident or view.incident, view.values, dict(problems or {}), outcome_error,
                            view.version if version is None else version, view.dialog_id, view.people)
