"""Beacon's Teams surface: installs, text commands, card actions, dialogs and message actions."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import ChannelAccount
from botbuilder.schema.teams import (
    ChannelInfo,
    MessagingExtensionAction,
    MessagingExtensionActionResponse,
    TaskModuleContinueResponse,
    TaskModuleMessageResponse,
    TaskModuleRequest,
    TaskModuleResponse,
    TaskModuleTaskInfo,
    TeamInfo,
)

from bot import context as ctx
from bot.card_actions import CardActions, declare_from_form
from bot.commands import Command, parse_command, parse_incident_number
from bot.incident_dialogs import IncidentDialogs
from bot import installs as teams_installs
from bot.installs import is_beacon, record_install, record_removal
from bot.text import html_to_text
from bot.views import incident_view, listed_incidents
from cards import strings
from cards.elements import Json
from cards.forms import DeclareForm, declare_form
from cards.incident import incident_card
from cards.incident_forms import FORM_VERBS
from cards.messages import help_card, incident_list_card, notice_card
from services.deps import Deps
from services.incidents import IncidentNotFound
from services.placement import placement
from services.verbs import Verb

log = logging.getLogger("beacon.bot")


def _attachment_activity(card: Json) -> Any:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


CommandHandler = Callable[[TurnContext, Command], Awaitable[None]]
# A dialog's fetch or submit: the data the button or form sent in, the dialog's next step out.
DialogRoute = Callable[[TurnContext, dict[str, Any]], Awaitable[TaskModuleResponse]]


class BeaconBot(TeamsActivityHandler):
    def __init__(self, deps: Deps):
        self.deps = deps
        self.card_actions = CardActions(deps)
        self._commands: dict[str, CommandHandler] = {
            "declare": self._declare_command, "list": self._list_command,
            "show": self._show_command, "help": self._help_command,
            "drill": self._drill_command, "actions": self._not_yet, "metrics": self._not_yet,
        }
        # By the verb in the data; the declare form otherwise. The incident card's forms open here.
        self.incident_dialogs = IncidentDialogs(deps)
        self._dialogs: dict[str, DialogRoute] = {verb.value: self.incident_dialogs.dialog for verb in FORM_VERBS}

    def register_command(self, name: str, handler: CommandHandler) -> None:
        """Integrations answer their own words (e.g. actions, metrics)."""
        self._commands[name] = handler

    def register_dialog(self, verb: str, route: DialogRoute) -> None:
        """Integrations open and answer their own dialogs (task/fetch and task/submit whose data
        carries `verb`), e.g. the post-incident report form."""
        self._dialogs[verb] = route

    # -- installation ----------------------------------------------------------------------
    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await record_install(turn_context, self.deps)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await record_removal(turn_context, self.deps, "installationUpdate remove")

    async def on_teams_members_added(self, teams_members_added: list[Any], team_info: TeamInfo,
                                     turn_context: TurnContext) -> None:
        if is_beacon(turn_context, teams_members_added):
            await record_install(turn_context, self.deps)
        await teams_installs.members_added(turn_context, self.deps, teams_members_added)

    async def on_members_added_activity(self, members_added: list[ChannelAccount],
                                        turn_context: TurnContext) -> None:
        await self.on_teams_members_added(members_added, TeamInfo(), turn_context)

    async def on_teams_members_removed(self, teams_members_removed: list[Any], team_info: TeamInfo,
                                       turn_context: TurnContext) -> None:
        if is_beacon(turn_context, teams_members_removed):
            await record_removal(turn_context, self.deps, "Beacon removed from the team's members")
        else:
            await teams_installs.members_removed(turn_context, self.deps, teams_members_removed)

    async def on_teams_team_deleted(self, team_info: TeamInfo, turn_context: TurnContext) -> None:
        await record_removal(turn_context, self.deps, "team deleted")

    async def on_teams_team_hard_deleted(self, team_info: TeamInfo, turn_context: TurnContext) -> None:
        await record_removal(turn_context, self.deps, "team deleted for good")

    async def on_teams_team_renamed(self, team_info: TeamInfo, turn_context: TurnContext) -> None:
        await teams_installs.team_renamed(turn_context, self.deps)

    async def on_teams_channel_created(self, channel_info: ChannelInfo, team_info: TeamInfo,
                                       turn_context: TurnContext) -> None:
        await teams_installs.channel_event(turn_context, self.deps)

    async def on_teams_channel_renamed(self, channel_info: ChannelInfo, team_info: TeamInfo,
                                       turn_context: TurnContext) -> None:
        await teams_installs.channel_event(turn_context, self.deps)

    async def on_teams_channel_restored(self, channel_info: ChannelInfo, team_info: TeamInfo,
                                        turn_context: TurnContext) -> None:
        await teams_installs.channel_event(turn_context, self.deps)

    async def on_teams_channel_deleted(self, channel_info: ChannelInfo, team_info: TeamInfo,
                                       turn_context: TurnContext) -> None:
        await teams_installs.channel_event(turn_context, self.deps, deleted=True)

    # -- text commands -----------------------------------------------------------------------
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        command = parse_command(ctx.command_text(turn_context))
        handler = self._commands.get(command.name, self._unknown_command)
        await handler(turn_context, command)

    async def _declare_command(self, turn_context: TurnContext, command: Command) -> None:
        form = declare_form(DeclareForm(title=command.argument), self.deps.config, dialog=False)
        await turn_context.send_activity(_attachment_activity(form))

    async def _drill_command(self, turn_context: TurnContext, command: Command) -> None:
        title = f"Drill: {command.argument}" if command.argument else "Drill"
        form = declare_form(DeclareForm(title=title, drill=True), self.deps.config, dialog=False)
        await turn_context.send_activity(_attachment_activity(form))

    async def _list_command(self, turn_context: TurnContext, command: Command) -> None:
        async with self.deps.uow() as uow:
            listed = await listed_incidents(uow)
        await turn_context.send_activity(_attachment_activity(incident_list_card(listed, self.deps.clock.now())))

    async def _show_command(self, turn_context: TurnContext, command: Command) -> None:
        number = parse_incident_number(command.argument)
        if number is None:
            await turn_context.send_activity(_attachment_activity(
                help_card(f"Which incident? Try “show INC-7”, not “{command.argument}”.")))
            return
        try:
            async with self.deps.uow() as uow:
                view = await incident_view(uow, number, self.deps.view_extras, now=self.deps.clock.now(),
                                           admins=self.deps.config.roles.incident_admins)
        except IncidentNotFound:
            await turn_context.send_activity(_attachment_activity(
                notice_card(strings.NOT_FOUND.format(number=f"INC-{number}"))))
            return
        await turn_context.send_activity(_attachment_activity(incident_card(view)))

    async def _help_command(self, turn_context: TurnContext, command: Command) -> None:
        await turn_context.send_activity(_attachment_activity(help_card()))

    async def _not_yet(self, turn_context: TurnContext, command: Command) -> None:
        await turn_context.send_activity(_attachment_activity(
            help_card(strings.NOT_AVAILABLE.format(what=command.name))))

    async def _unknown_command(self, turn_context: TurnContext, command: Command) -> None:
        await turn_context.send_activity(_attachment_activity(
            help_card(strings.UNKNOWN_COMMAND.format(text=command.text[:80]))))

    # -- Action.Execute ----------------------------------------------------------------------
    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name == "adaptiveCard/action":
            return await self.card_actions.handle(turn_context)
        return await super().on_invoke_activity(turn_context)

    # -- dialogs (task modules) --------------------------------------------------------------
    async def on_teams_task_module_fetch(self, turn_context: TurnContext,
                                         task_module_request: TaskModuleRequest) -> TaskModuleResponse:
        data = task_module_request.data if isinstance(task_module_request.data, dict) else {}
        if (route := self._dialogs.get(str(data.get("verb")))) is not None:
            return await self._gated_dialog(turn_context, data, route)
        return self._dialog(DeclareForm.from_values(data))

    async def on_teams_task_module_submit(self, turn_context: TurnContext,
                                          task_module_request: TaskModuleRequest) -> TaskModuleResponse:
        data = task_module_request.data if isinstance(task_module_request.data, dict) else {}
        if (route := self._dialogs.get(str(data.get("verb")))) is not None:
            return await self._gated_dialog(turn_context, data, route)
        if data.get("verb") == Verb.DECLARE_JOIN.value:
            joined = await self.card_actions.join_from_dialog(turn_context, data)
            if isinstance(joined, DeclareForm):
                return self._dialog(joined)
            return TaskModuleResponse(task=TaskModuleMessageResponse(value=joined))
        result = await declare_from_form(turn_context, data, "card", self.deps, self.card_actions.gate)
        if isinstance(result, DeclareForm):
            return self._dialog(result)
        message = strings.DECLARED.format(number=result.incident.number, title=result.incident.title)
        return TaskModuleResponse(task=TaskModuleMessageResponse(value=message))

    # -- "Declare incident" on a message -----------------------------------------------------
    async def on_teams_messaging_extension_fetch_task(self, turn_context: TurnContext,
                                                      action: MessagingExtensionAction) -> Any:
        payload = action.message_payload
        content = html_to_text(payload.body.content if payload and payload.body else "")
        title = content.split("\n", 1)[0][:120]
        link = getattr(payload, "link_to_message", None) or ""
        description = f"{content}\n\nFrom: {link}" if link else content
        form = DeclareForm(title=title, description=description[:4000])
        return MessagingExtensionActionResponse(task=self._dialog(form).task)

    async def on_teams_messaging_extension_submit_action(self, turn_context: TurnContext,
                                                         action: MessagingExtensionAction) -> Any:
        data = action.data if isinstance(action.data, dict) else {}
        if data.get("verb") == Verb.DECLARE_JOIN.value:
            joined = await self.card_actions.join_from_dialog(turn_context, data)
            if isinstance(joined, DeclareForm):
                return MessagingExtensionActionResponse(task=self._dialog(joined).task)
            return MessagingExtensionActionResponse()
        activity = turn_context.activity
        where = await placement(self.deps, ctx.thread_target(activity, self.deps.config),
                                activity.conversation.id, ctx.channel_id(activity))
        if where.problem:  # nothing is declared: the form stays open with the reason and the fix
            return MessagingExtensionActionResponse(task=self._dialog(DeclareForm.from_values(
                data, error=where.problem)).task)
        result = await declare_from_form(turn_context, data, "message", self.deps, self.card_actions.gate)
        if isinstance(result, DeclareForm):
            return MessagingExtensionActionResponse(task=self._dialog(result).task)
        incident = result.incident
        told = strings.DECLARED_AT.format(number=incident.number, title=incident.title, where=where.where)
        return MessagingExtensionActionResponse(task=TaskModuleMessageResponse(value=told))

    async def _gated_dialog(self, turn_context: TurnContext, data: dict[str, Any],
                            route: DialogRoute) -> TaskModuleResponse:
        """An integration's dialog (opening or submitting), after the same policy check as a card
        action: a refusal is the dialog's message."""
        try:
            refusal = await self.card_actions.gate.check(turn_context, Verb(str(data.get("verb"))), data)
        except ValueError as error:
            return TaskModuleResponse(task=TaskModuleMessageResponse(value=str(error)))
        if refusal is not None:
            return TaskModuleResponse(task=TaskModuleMessageResponse(value=refusal.message))
        return await route(turn_context, data)

    def _dialog(self, form: DeclareForm) -> TaskModuleResponse:
        card = declare_form(form, self.deps.config, dialog=True)
        info = TaskModuleTaskInfo(title=strings.DECLARE_FORM_TITLE, height="large", width="medium",
                                  card=CardFactory.adaptive_card(card))
        return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))
