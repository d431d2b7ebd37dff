"""`@Beacon page @person|team <text>` on the Teams surface: find the incident it is for (the thread
it is said in, or an `INC-n` in the text), who is meant (an @mention, a typed email, or a directory
team's name), check the policy, and page once through services/paging/manual.py."""

from __future__ import annotations

import re
from typing import Any

from botbuilder.core import MessageFactory, TurnContext

from bot import context as ctx
from bot.card_actions import CardRefused
from bot.commands import Command
from bot.gate import Gate
from bot.mentions import directory_person, shown_as
from cards.elements import Json, label
from services.deps import Deps
from services.paging.manual import PageRefused, PageTarget, page_by_hand
from services.verbs import Verb

NO_INCIDENT = ("A page by hand belongs to an incident, so it can be acknowledged and tracked on its timeline. "
               "Reply in the incident's thread with “@Beacon page @person <what you need>”, or name the "
               "incident: “@Beacon page @person INC-7 <what you need>”. To see who is on call: “@Beacon oncall”.")
USAGE = "Write “@Beacon page @person <what you need>” or “@Beacon page <team> <what you need>”."
_INCIDENT = re.compile(r"(?<![\w-])INC-?(\d{1,9})\b", re.IGNORECASE)
_MENTION = re.compile(r"^(<at>.*?</at>)\s*(.*)$")


def _reply(text: str) -> object:
    activity = MessageFactory.text(label(text))
    activity.text_format = "plain"  # people's words, shown as typed
    return activity


class ManualPages:
    def __init__(self, deps: Deps, gate: Gate):
        self.deps, self.gate = deps, gate

    async def _incident_id(self, turn_context: TurnContext, words: str) -> tuple[int | None, str]:
        """The incident named in the text (then taken out of it), else the one whose thread this is."""
        if match := _INCIDENT.search(words):
            return int(match[1]), " ".join((words[:match.start()] + words[match.end():]).split())
        conversation = turn_context.activity.conversation.id if turn_context.activity.conversation else ""
        root = (conversation or "").partition(";messageid=")[2]
        async with self.deps.uow() as uow:
            return await uow.threads.incident_at(root), words

    async def _target(self, turn_context: TurnContext, words: str) -> tuple[PageTarget, str]:
        if match := _MENTION.match(words):
            typed, rest = match[1], match[2]
        else:
            typed, _, rest = words.partition(" ")
        name = typed.removeprefix("team:")
        team = next((t for t in self.deps.config.directory.teams if t.name.lower() == name.lower()), None)
        if team is not None:
            return PageTarget(team=team), rest
        person = await directory_person(turn_context, self.deps, typed)
        if person is None:
            raise PageRefused("person", f"{shown_as(typed)[:80] or 'Nobody'} is not a person or team in the "
                                        f"directory (directory.teams), so Beacon cannot page them. {USAGE}")
        return PageTarget(person=person), rest

    async def command(self, turn_context: TurnContext, command: Command) -> None:
        incident_id, words = await self._incident_id(turn_context, command.argument)
        if incident_id is None:
            await turn_context.send_activity(_reply(NO_INCIDENT))
            return
        refusal = await self.gate.check(turn_context, Verb.PAGE, {"incidentId": incident_id})
        if refusal is not None:
            await turn_context.send_activity(_reply(refusal.message))
            return
        try:
            if not words:
                raise PageRefused("person", USAGE)
            target, text = await self._target(turn_context, words)
            done = await page_by_hand(self.deps, incident_id, target, text, ctx.actor(turn_context.activity),
                                      activity_id=turn_context.activity.id or "")
        except PageRefused as refused:
            await turn_context.send_activity(_reply(f"Nobody was paged: {refused}"))
            return
        if not done.applied:
            return  # Teams delivered this message again: answered the first time
        notes = f" Note: {'; '.join(done.notes)}." if done.notes else ""
        await turn_context.send_activity(_reply(
            f"Paged {', '.join(done.names)} by {', '.join(done.methods)} for {done.incident.label}.{notes}"))

    async def card_action(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        """No card pages by hand (a page needs words): a click that says it is refused with how to,
        and the clicker keeps their card."""
        raise CardRefused(f"Page from the incident's thread. {USAGE}")

