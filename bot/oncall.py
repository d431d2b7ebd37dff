"""`@Beacon oncall` on the Teams surface: the on-call card, overrides typed as a command
(`oncall override <schedule> @person until <date time>`, `oncall override <schedule> clear`) or
made in the card's dialog, and the card's Remove and Refresh buttons. Every one of them passes the
policy table (services/policy.py) first, as a card action does."""

from __future__ import annotations

import re
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema.teams import (
    TaskModuleContinueResponse,
    TaskModuleMessageResponse,
    TaskModuleResponse,
    TaskModuleTaskInfo,
)

from bot import context as ctx
from bot.commands import Command
from bot.gate import Gate, positive_id
from bot.manual_page import ManualPages
from bot.mentions import directory_person, reader_zone_name, shown_as
from cards.elements import Json
from cards.oncall import FORM_TITLE, OncallCardView, OverrideFormView, oncall_card, override_form
from services.deps import Deps
from services.paging.oncall_view import local_time, reader_zone, schedule_views
from services.paging.overrides import OverrideDone, OverrideRefused, add_override, clear_overrides
from services.verbs import Verb

USAGE = ("Try “@Beacon oncall” to see who is on call, “@Beacon oncall override <schedule> @person until "
         "<date time>” to cover a schedule, or “@Beacon oncall override <schedule> clear” to remove the cover.")
_OVERRIDE = re.compile(r"^override\s+(\S+)\s+(.+?)\s+until\s+(.+)$", re.IGNORECASE)
_CLEAR = re.compile(r"^override\s+(\S+)\s+(?:clear|remove)$", re.IGNORECASE)


def _attachment(card: Json) -> Any:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


def saved_notice(done: OverrideDone, zone: str) -> str:
    before = f" instead of {done.replaced}" if done.replaced and done.replaced != done.person.name else ""
    return (f"Override saved: {done.person.name or done.person.key} is on call for {done.override.schedule}{before} "
            f"until {local_time(done.override.ends_at, zone)}.")


class OncallSurface:
    def __init__(self, deps: Deps, gate: Gate):
        self.deps, self.gate = deps, gate

    def _zone(self, schedule: str) -> str:
        entry = self.deps.config.oncall.schedule(schedule)
        return entry.time_zone if entry else "UTC"

    async def card(self, turn_context: TurnContext, notice: str = "", problem: bool = False) -> Json:
        now = self.deps.clock.now()
        async with self.deps.uow() as uow:
            overrides = await uow.oncall_overrides.active(now)
        views = schedule_views(self.deps.config, now, overrides, self.deps.shift_feeds)
        zone = reader_zone_name(turn_context.activity)
        return oncall_card(OncallCardView(views, zone if reader_zone(zone) else "", notice, problem))

    # -- the text command -------------------------------------------------------------------
    async def command(self, turn_context: TurnContext, command: Command) -> None:
        words = command.argument
        verb = Verb.ONCALL_SHOW if not words else Verb.ONCALL_OVERRIDE
        refusal = await self.gate.check(turn_context, verb, {})
        if refusal is not None:
            await turn_context.send_activity(MessageFactory.text(refusal.message))
            return
        try:
            notice = await self._typed(turn_context, words) if words else ""
        except OverrideRefused as refused:
            card = await self.card(turn_context, f"Nothing changed: {refused} {USAGE}", problem=True)
        else:
            card = await self.card(turn_context, notice)
        await turn_context.send_activity(_attachment(card))

    async def _typed(self, turn_context: TurnContext, words: str) -> str:
        actor, activity_id = ctx.actor(turn_context.activity), turn_context.activity.id or ""
        if match := _CLEAR.match(words):
            removed = await clear_overrides(self.deps, match[1], actor, activity_id=activity_id)
            return f"Removed {len(removed)} override{'s' if len(removed) != 1 else ''} of {match[1]}." \
                if removed else ""
        match = _OVERRIDE.match(words)
        if match is None:
            raise OverrideRefused("command", f"“{words[:80]}” is not an on-call command.")
        schedule, typed, until = match[1], match[2], match[3]
        person = await directory_person(turn_context, self.deps, typed)
        done = await add_override(self.deps, schedule, person.key if person else "", until, actor,
                                  activity_id=activity_id, person_shown=shown_as(typed))
        return saved_notice(done, self._zone(done.override.schedule)) if done.applied else ""

    # -- the card's buttons and the dialog ----------------------------------------------------
    def form_view(self, values: dict[str, Any], problems: dict[str, str] | None = None) -> OverrideFormView:
        config = self.deps.config
        people = sorted({(p.name or p.email or p.aad_object_id, (p.email or p.aad_object_id).lower())
                         for p in config.directory_people() if p.email or p.aad_object_id})
        kept = {k: str(values.get(k) or "") for k in ("schedule", "person", "until")}
        return OverrideFormView([(s.name, s.time_zone) for s in config.oncall.schedules], people, kept,
                                dict(problems or {}))

    async def submit(self, turn_context: TurnContext, data: dict[str, Any]) -> tuple[dict[str, str], str]:
        """(the problem by field, when nothing changed) and what was done."""
        try:
            done = await add_override(self.deps, str(data.get("schedule") or ""), str(data.get("person") or ""),
                                      str(data.get("until") or ""), ctx.actor(turn_context.activity))
        except OverrideRefused as refused:
            return {refused.field: str(refused)}, ""
        return {}, saved_notice(done, self._zone(done.override.schedule))

    async def dialog(self, turn_context: TurnContext, data: dict[str, Any]) -> TaskModuleResponse:
        problems: dict[str, str] = {}
        if str(data.get("verb")) != Verb.ONCALL_OVERRIDE_FORM.value:
            problems, message = await self.submit(turn_context, data)
            if not problems:
                return TaskModuleResponse(task=TaskModuleMessageResponse(value=message))
        form = override_form(self.form_view(data, problems), dialog=True)
        info = TaskModuleTaskInfo(title=FORM_TITLE, height="medium", width="medium",
                                  card=CardFactory.adaptive_card(form))
        return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))

    async def card_action(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        """Action.Execute from the on-call card (Refresh, Remove) or the form posted as a card."""
        if verb is Verb.ONCALL_OVERRIDE_FORM:
            return override_form(self.form_view(data), dialog=False)
        if verb is Verb.ONCALL_OVERRIDE:
            problems, notice = await self.submit(turn_context, data)
            if problems:
                return override_form(self.form_view(data, problems), dialog=False)
            return await self.card(turn_context, notice)
        if verb is Verb.ONCALL_OVERRIDE_CLEAR:
            override_id = positive_id(data.get("overrideId"), "overrideId")
            try:
                removed = await clear_overrides(self.deps, str(data.get("schedule") or ""),
                                                ctx.actor(turn_context.activity), override_id=override_id,
                                                activity_id=turn_context.activity.id or "")
            except OverrideRefused as refused:
                return await self.card(turn_context, str(refused), problem=True)
            names = ", ".join(o.person for o in removed)
            return await self.card(turn_context, f"Override removed ({names})." if removed else "")
        return await self.card(turn_context)



def wire_oncall(wiring: Any) -> None:
    """The `oncall` and `page` commands, the on-call card's buttons and the override dialog."""
    surface = OncallSurface(wiring.deps, wiring.card_actions.gate)
    for verb in (Verb.ONCALL_SHOW, Verb.ONCALL_OVERRIDE_FORM, Verb.ONCALL_OVERRIDE, Verb.ONCALL_OVERRIDE_CLEAR):
        wiring.card_actions.register(verb, surface.card_action)
    pages = ManualPages(wiring.deps, wiring.card_actions.gate)
    wiring.card_actions.register(Verb.PAGE, pages.card_action)
    if wiring.bot is not None:
        wiring.bot.register_command("oncall", surface.command)
        wiring.bot.register_command("page", pages.command)
        for verb in (Verb.ONCALL_OVERRIDE_FORM, Verb.ONCALL_OVERRIDE):
            wiring.bot.register_dialog(verb.value, surface.dialog)
