"""Who may invite whom to a bridge: guests start nothing, only responders send invitations to typed
addresses (people outside the directory), and `bridge.allowed_invite_domains` keeps typed
addresses to known domains. Through /api/messages, with Graph as the local fake."""

from __future__ import annotations

from typing import Any

import pytest

from bot.wiring import OutsideSettings
from services.config import parse_config
from services.notify.sms.settings import SmsSettings
from tests.cardtext import input_values
from tests.e2e.conftest import Stack, start_stack
from tests.e2e.helpers import act, card_text, refused, settled
from tests.e2e.test_bridge import (
    BOB,
    CONFIG,
    PUBLIC_URL,
    graph,  # noqa: F401 (fixture)
    graph_settings,
    incident_with_people,
)
from tests.fakes.graph import FakeGraph
from tests.teams_activities import Person, Users

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*")

GINA = Person.named("Gina Guest")
ATTACKER = "attacker@evil.example"


async def bridged(database_url: str, fake: FakeGraph, config: Any = CONFIG) -> Stack:
    outside = OutsideSettings(graph=graph_settings(fake), sms=SmsSettings(provider=""))
    stack = await start_stack(database_url, config, outside=outside, public_url=PUBLIC_URL)
    stack.teams.add_member({**GINA.member(), "userRole": "guest"})
    return stack


async def stop(stack: Stack) -> None:
    await stack.beacon.stop()
    await stack.teams.stop()


async def bridge_open(stack: Stack, root: Any) -> None:
    # Generous: the first Graph call of a process imports much of msgraph-sdk, which takes seconds
    # on a busy machine.
    def find(record: Any) -> Any:
        return next((c for m in record.thread(root.id) for c in m.cards if "Bridge open for" in card_text(c)), None)

    await stack.teams.wait_for(find, timeout=60)


async def bridge_rows(stack: Stack) -> Any:
    async with stack.beacon.deps.uow() as uow:
        return await uow.bridges.get(1)


async def test_a_guest_cannot_start_a_bridge_or_invite_anyone(database_url: str, graph: FakeGraph) -> None:
    stack = await bridged(database_url, graph)
    try:
        root = await incident_with_people(stack)
        message = await refused(stack, root, "bridge.start", from_user=GINA, invite_extra=ATTACKER)
        assert message == "Not allowed: guests can only read INC-1."
        assert await refused(stack, root, "bridge.form", from_user=GINA) == message  # not even the contact list
        assert await refused(stack, root, "bridge.ring", from_user=GINA, ring=BOB.aad_object_id) == message
        await settled(stack)
        assert graph.requests_to("/events", "POST") == [] and graph.requests_to("/communications/calls") == []
        assert await bridge_rows(stack) is None
        async with stack.beacon.deps.uow() as uow:
            refusals = [e.summary for e in await uow.timeline.of(1) if e.kind == "refused"]
        assert refusals[0] == "refused: Gina Guest tried to start a bridge for INC-1: guests can only read INC-1"
    finally:
        await stop(stack)


async def test_only_responders_invite_typed_addresses(database_url: str, graph: FakeGraph) -> None:
    stack = await bridged(database_url, graph)
    try:
        root = await incident_with_people(stack)
        picker = await act(stack, root, "bridge.form", from_user=Users.DAN)
        values = {**input_values(picker), "invite_extra": ATTACKER}
        message = await refused(stack, root, "bridge.start", from_user=Users.DAN, **values)
        assert message == "Not allowed: only responders can invite addresses outside the directory to a bridge."
        await settled(stack)
        assert graph.requests_to("/events", "POST") == [] and await bridge_rows(stack) is None

        answer = await act(stack, root, "bridge.start", from_user=BOB, **{**values, "invite_extra": "sam@partner.example"})
        assert "Creating the bridge" in card_text(answer)
        await bridge_open(stack, root)
        [create] = graph.requests_to("/events", "POST")
        assert "sam@partner.example" in {a["emailAddress"]["address"] for a in create.body["attendees"]}
    finally:
        await stop(stack)


async def test_allowed_invite_domains_keep_typed_addresses_to_known_domains(database_url: str,
                                                                            graph: FakeGraph) -> None:
    config = parse_config({**CONFIG.model_dump(mode="json"), "bridge": {"allowed_invite_domains": ["ourco.example"]}})
    stack = await bridged(database_url, graph, config)
    try:
        root = await incident_with_people(stack)
        picker = await act(stack, root, "bridge.form", from_user=BOB)
        values = input_values(picker)
        answer = await act(stack, root, "bridge.start", from_user=BOB, **{**values, "invite_extra": ATTACKER})
        assert f"not {ATTACKER}" in card_text(answer) and "bridge.allowed_invite_domains" in card_text(answer)
        assert await bridge_rows(stack) is None
        # a client contact's domain (from the directory) and the listed domain are fine
        typed = "kim@contoso-client.example, lee@ourco.example"
        answer = await act(stack, root, "bridge.start", from_user=BOB, **{**values, "invite_extra": typed})
        assert "Creating the bridge" in card_text(answer)
        await bridge_open(stack, root)
        [create] = graph.requests_to("/events", "POST")
        invited = {a["emailAddress"]["address"] for a in create.body["attendees"]}
        assert {"kim@contoso-client.example", "lee@ourco.example"} <= invited and ATTACKER not in invited
    finally:
        await stop(stack)
