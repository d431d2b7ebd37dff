"""The post-incident report form on the Teams surface: opened in a dialog from the request in the
incident thread, answered with the form again (every value kept, each problem beside its field),
one more corrective-action row, or the completed report. Cards posted before the dialog existed
carry the same form as Action.Execute, answered the same way."""

from __future__ import annotations

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
from bot.gate import positive_id
from cards.elements import Json
from cards.report_form import FORM_TITLE, ReportFormView, report_form
from services.deps import Deps
from services.incidents import DomainError, IncidentNotFound
from services.review.form import ReportDraft, ReportIncomplete
from services.review.settings import ReviewSettings
from services.review.usecases import submit_report
from services.verbs import Verb

DONE = "Report complete. Thank you: the summary is in the incident thread."
ALREADY = "The post-incident report of {label} is already complete."


class ReportForms:
    def __init__(self, deps: Deps, settings: ReviewSettings):
        self.deps, self.settings = deps, settings

    async def view(self, incident_id: int, draft: ReportDraft,
                   problems: Mapping[str, str] | None = None) -> ReportFormView:
        """The form's frame from the database: the incident, and the people the picker offers first
        (the directory's, and whoever the draft already names, so a chosen owner shows by name)."""
        directory = {m.aad_object_id: m.name for t in self.deps.config.directory.teams for m in t.members
                     if m.aad_object_id}
        chosen = [a.owner for a in draft.actions if a.owner and a.owner not in directory]
        async with self.deps.uow() as uow:
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                raise IncidentNotFound(f"INC-{incident_id} does not exist")
            named = await uow.people.named(chosen) if chosen else {}
        people = sorted(directory.items(), key=lambda item: item[1])
        people += [(person_id, person.name) for person_id, person in named.items()]
        return ReportFormView(incident.label, incident.title, incident_id, draft, dict(problems or {}),
                              [(name, person_id) for person_id, name in people])

    async def answer(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any], *,
                     dialog: bool) -> tuple[Json | None, str]:
        """(the form to show again, or None) and a closing message: one flow for dialog and card."""
        incident_id = positive_id(data.get("incidentId"), "incidentId")
        draft = ReportDraft.from_values(data)
        if verb is Verb.REVIEW_REPORT_ADD_ROW:
            return report_form(await self.view(incident_id, draft.with_row()), dialog=dialog), ""
        if verb is Verb.REVIEW_REPORT_FORM:
            async with self.deps.uow() as uow:
                row = await uow.reviews.report(incident_id)
            if row is not None and row.completed_at is not None:
                return None, ALREADY.format(label=f"INC-{incident_id}")
            return report_form(await self.view(incident_id, draft), dialog=dialog), ""
        try:
            _, applied = await submit_report(self.deps, self.settings, incident_id, data,
                                             ctx.actor(turn_context.activity), turn_context.activity.id or "")
        except ReportIncomplete as incomplete:
            return report_form(await self.view(incident_id, incomplete.draft, incomplete.problems), dialog=dialog), ""
        return None, DONE if applied else ALREADY.format(label=f"INC-{incident_id}")

    async def dialog(self, turn_context: TurnContext, data: dict[str, Any]) -> TaskModuleResponse:
        try:
            form, message = await self.answer(turn_context, Verb(str(data.get("verb"))), data, dialog=True)
        except (DomainError, ValueError) as error:
            return TaskModuleResponse(task=TaskModuleMessageResponse(value=str(error)))
        if form is None:
            return TaskModuleResponse(task=TaskModuleMessageResponse(value=message))
        info = TaskModuleTaskInfo(title=FORM_TITLE, height="large", width="medium",
                                  card=CardFactory.adaptive_card(form))
        return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))
