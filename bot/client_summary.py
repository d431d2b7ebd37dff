"""The customer summary on the Teams surface: its card in the incident thread, "Approve & send"
(a Universal Action), and the edit dialog. The use cases (services.review.client_flow) decide;
this module only shows."""

from __future__ import annotations

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
from cards.client_summary import (
    EDIT_TITLE,
    ClientSummaryView,
    client_summary_card,
    client_summary_form,
    client_summary_preview,
)
from cards.elements import Json
from services.deps import Deps
from services.incidents import DomainError, Person
from services.review import client_flow
from services.review.client_summary import FIELDS, SummaryIncomplete
from services.verbs import Verb

CHANGED = ("The customer summary changed after this card was shown: nothing was sent. Read it as it is now "
           "and approve again.")


def _revision(data: dict[str, Any]) -> int:
    return positive_id(data.get("revision"), "revision")


class ClientSummaries:
    def __init__(self, deps: Deps):
        self.deps = deps

    async def view(self, incident_id: int, *, notice: str = "", values: dict[str, str] | None = None,
                   problems: dict[str, str] | None = None) -> ClientSummaryView:
        incident, row, report = await client_flow.current(self.deps, incident_id)
        stored = {name: str(getattr(row, name)) for name, _ in FIELDS}
        sender = Person.from_dict(row.approved_by) if row.approved_by else None
        return ClientSummaryView(
            incident.label, incident.title, incident_id, row.client, report.owner_name, report.owner_aad,
            values or stored, [(str(email), str(name)) for email, name in row.recipients], row.revision,
            sent_by=sender.name if sender else "", sent_at=row.approved_at, notice=notice, problems=problems or {})

    async def card(self, incident_id: int) -> Json:
        return client_summary_card(await self.view(incident_id))

    async def _approve(self, turn_context: TurnContext, data: dict[str, Any]) -> tuple[str, int]:
        incident_id = positive_id(data.get("incidentId"), "incidentId")
        approval = await client_flow.approve(self.deps, incident_id, _revision(data),
                                             ctx.actor(turn_context.activity), turn_context.activity.id or "")
        row = approval.row
        if approval.outcome == client_flow.CHANGED:
            return CHANGED, incident_id
        who = Person.from_dict(row.approved_by).name if row.approved_by else "someone"
        if approval.outcome == client_flow.ALREADY_SENT:
            return f"Already sent: {who} approved it; it went out once.", incident_id
        return f"Sent to {', '.join(email for email, _ in row.recipients)}.", incident_id

    # -- Universal Actions on the card in the thread -----------------------------------------
    async def approve_on_card(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        notice, incident_id = await self._approve(turn_context, data)
        return client_summary_card(await self.view(incident_id, notice=notice))

    async def edit_on_card(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        """A card posted before "Edit" opened a dialog, or a client that sent it as an Execute:
        saved when the wording came along, else the card again."""
        incident_id = positive_id(data.get("incidentId"), "incidentId")
        if verb is Verb.REVIEW_CLIENT_SAVE:
            await client_flow.edit(self.deps, incident_id, _revision(data), data, ctx.actor(turn_context.activity))
            return client_summary_card(await self.view(incident_id, notice="Saved."))
        return client_summary_card(await self.view(incident_id, notice="Edit opens in a dialog: use the card's "
                                                                       "Edit button in Teams."))

    # -- the edit dialog ---------------------------------------------------------------------
    async def dialog(self, turn_context: TurnContext, data: dict[str, Any]) -> TaskModuleResponse:
        try:
            return await self._dialog(turn_context, Verb(str(data.get("verb"))), data)
        except SummaryIncomplete as incomplete:
            incident_id = positive_id(data.get("incidentId"), "incidentId")
            typed = {name: str(data.get(name) or "") for name, _ in FIELDS}
            return _continue(client_summary_form(await self.view(incident_id, values=typed,
                                                                 problems=incomplete.problems)))
        except (DomainError, ValueError) as error:
            return TaskModuleResponse(task=TaskModuleMessageResponse(value=str(error)))

    async def _dialog(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> TaskModuleResponse:
        incident_id = positive_id(data.get("incidentId"), "incidentId")
        if verb is Verb.REVIEW_CLIENT_APPROVE:
            notice, _ = await self._approve(turn_context, data)
            return TaskModuleResponse(task=TaskModuleMessageResponse(value=notice))
        if verb is Verb.REVIEW_CLIENT_SAVE:
            await client_flow.edit(self.deps, incident_id, _revision(data), data, ctx.actor(turn_context.activity))
            return _continue(client_summary_preview(await self.view(incident_id)))
        view = await self.view(incident_id)
        if view.sent_at is not None:
            return TaskModuleResponse(task=TaskModuleMessageResponse(
                value=f"The customer summary of {view.label} was already sent: it can no longer change."))
        return _continue(client_summary_form(view))


def _continue(form: Json) -> TaskModuleResponse:
    info = TaskModuleTaskInfo(title=EDIT_TITLE, height="large", width="medium", card=CardFactory.adaptive_card(form))
    return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))
