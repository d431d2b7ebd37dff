"""Which incident each of Beacon's card messages belongs to, so the gate can bind a click's data to
the message it came from (a click on INC-1's card whose data names INC-2 changes nothing).

Thread roots are known from incident_threads; every other card Beacon sends (a reply in a thread,
`show INC-2` inside INC-1's thread, a card in a chat, an invoke answer that turns a message into an
incident's card) is noted here as it is sent: the adapter hands every send to the ledger.
"""

from __future__ import annotations

import logging
from itertools import zip_longest
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, ResourceResponse

from services.deps import Deps

log = logging.getLogger("beacon.bot")
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
BOUND = "beacon.card_bound"  # turn state: the incident the gate found the clicked message bound to


def incident_of_card(card: Any) -> int | None:
    """The one incident a card's actions act on; None when it names none or several (a list)."""
    found: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if str(node.get("type", "")).startswith("Action.") and isinstance(data, dict):
                value = str(data.get("incidentId", ""))
                if value.isascii() and value.isdigit():
                    found.add(int(value))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card)
    return found.pop() if len(found) == 1 else None


def _cards(activity: Activity) -> list[Any]:
    if activity.type == ActivityTypes.invoke_response:
        body = getattr(activity.value, "body", None)
        if isinstance(body, dict) and body.get("type") == CARD_TYPE:
            return [body.get("value")]
        return []
    return [a.content for a in activity.attachments or [] if a.content_type == CARD_TYPE]


class CardLedger:
    """Called by the adapter after every send (bot.adapter.BeaconAdapter.send_activities)."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def sent(self, context: TurnContext, activities: list[Activity],
                   responses: list[ResourceResponse | None]) -> None:
        notes: list[tuple[str, str, int]] = []
        for activity, response in zip_longest(activities, responses[:len(activities)]):
            incident_id = next((i for i in map(incident_of_card, _cards(activity)) if i is not None), None)
            if incident_id is None:
                continue
            if activity.type == ActivityTypes.invoke_response:  # the answer replaces the clicked card
                if context.turn_state.get(BOUND) == incident_id or context.activity.name != "adaptiveCard/action":
                    continue
                message_id = context.activity.reply_to_id or ""
            else:
                message_id = getattr(response, "id", "") or ""
            conversation = activity.conversation.id if activity.conversation else context.activity.conversation.id
            if message_id and conversation:
                notes.append((conversation, message_id, incident_id))
        if notes:
            await self._note(notes)

    async def _note(self, notes: list[tuple[str, str, int]]) -> None:
        try:
            async with self.deps.uow() as uow:
                for conversation, message_id, incident_id in notes:
                    await uow.threads.note_card(conversation, message_id, incident_id, self.deps.clock.now())
                await uow.commit()
        except Exception:  # the card is out already; its clicks then fall back on its thread
            log.exception("could not note which incident %d card message(s) belong to", len(notes))
