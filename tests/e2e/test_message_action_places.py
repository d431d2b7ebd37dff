""""Declare incident" on a message in a group chat, as Teams sends it (composeExtension/submitAction
with the chat as the conversation and no team or channel): Beacon cannot post in a chat it was
never added to, so the incident goes to the configured incidents channel and the declarer is told
where; with no such channel nothing is declared and the dialog says how to fix it."""

from __future__ import annotations

import re
import uuid
from typing import Any

from services.config import parse_config
from tests.e2e.conftest import E2E_CONFIG, start_stack
from tests.e2e.helpers import heading, settled
from tests.teams_activities import (
    CHANNEL_ID,
    TENANT_ID,
    conversation_update_bot_added,
    installation_update,
    message_action_submit,
)

FORM = {"title": "Checkout 500s", "impact": "high", "urgency": "medium", "service": "payments-api"}


def in_group_chat(activity: dict[str, Any], chat_id: str) -> dict[str, Any]:
    """The same activity from a group chat: Teams names the chat and no team or channel."""
    activity["conversation"] = {"id": chat_id, "isGroup": True, "conversationType": "groupChat",
                                "tenantId": TENANT_ID}
    activity["channelData"] = {"tenant": {"id": TENANT_ID}, "source": {"name": "compose"}}
    return activity


def chat_id() -> str:
    return f"19:{uuid.uuid4().hex}@thread.v2"


def config(incidents_channel: str = "") -> Any:
    return parse_config({**E2E_CONFIG, "channels": {"incidents_channel": incidents_channel}})


async def test_from_a_chat_without_beacon_it_goes_to_the_incidents_channel_and_says_so(database_url):
    stack = await start_stack(database_url, config(CHANNEL_ID))
    try:
        await stack.send(conversation_update_bot_added(service_url=stack.url, channel_id=CHANNEL_ID,
                                                       team_name="Operations"))
        await settled(stack)
        chat = chat_id()
        status, body = await stack.send(in_group_chat(message_action_submit(FORM, service_url=stack.url), chat))
        assert status == 200
        assert body["task"]["type"] == "message"
        # the team is named once Beacon knows which team holds the channel
        assert re.fullmatch(r"INC-1 declared: Checkout 500s\. Its card is in the incidents channel( of team "
                            r"Operations)?, where responders follow it\.", body["task"]["value"]), body
        await settled(stack)
        assert any(heading(c).startswith("P2 · INC-1") for c in stack.teams.cards(CHANNEL_ID))
        assert stack.teams.messages(chat) == []
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def test_from_a_chat_without_beacon_and_no_incidents_channel_nothing_is_declared(database_url):
    stack = await start_stack(database_url, config())
    try:
        chat = chat_id()
        status, body = await stack.send(in_group_chat(message_action_submit(FORM, service_url=stack.url), chat))
        assert status == 200 and body["task"]["type"] == "continue"
        form = body["task"]["value"]["card"]["content"]
        shown = " ".join(str(b.get("text", "")) for b in form["body"]).replace("\\", "")  # as Teams renders it
        assert "Beacon is not in this chat" in shown and "channels.incidents_channel" in shown
        assert next(b for b in form["body"] if b.get("id") == "title")["value"] == "Checkout 500s"  # kept
        await settled(stack)
        async with stack.beacon.deps.uow() as uow:
            assert await uow.incidents.open() == []
        assert stack.teams.requests == []
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def test_from_a_chat_beacon_is_in_the_incident_stays_in_that_chat(database_url):
    stack = await start_stack(database_url, config())
    try:
        chat = chat_id()
        await stack.send(in_group_chat(installation_update(service_url=stack.url, team_id=None), chat))
        await settled(stack)
        status, body = await stack.send(in_group_chat(message_action_submit(FORM, service_url=stack.url), chat))
        assert body["task"] == {"type": "message", "value": "INC-1 declared: Checkout 500s. Its card is in this "
                                                            "chat, where responders follow it."}
        await settled(stack)
        assert any(heading(c).startswith("P2 · INC-1") for c in stack.teams.cards(chat))
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
