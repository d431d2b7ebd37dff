"""Issue 2's story end to end, through HTTP: install, declare, triage, assign, every status,
resolve and close, with the card updating in place and every step on the timeline."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import act, card_text, card_version, declare, heading, settled
from tests.teams_activities import (
    CHANNEL_ID,
    TEAM_ID,
    Users,
    conversation_update_bot_added,
    installation_update,
    personal_message,
)


async def test_installing_in_a_team_says_hello_once(stack):
    await stack.send(installation_update(service_url=stack.url))
    await stack.send(conversation_update_bot_added(service_url=stack.url))
    await stack.send(installation_update(service_url=stack.url))
    hello = await stack.teams.wait_for_posts(1)
    assert len(stack.teams.posted()) == 1
    assert hello[0].conversation_id == TEAM_ID
    assert "Declare incident" in card_text(hello[0].cards[0])
    stack.every_card_is_valid()


async def test_installing_in_a_personal_chat_says_hello(stack):
    await stack.send(installation_update(service_url=stack.url, team_id=None))
    [hello] = await stack.teams.wait_for_posts(1)
    assert hello.conversation_id.startswith("a:")


async def test_the_whole_lifecycle_through_teams(stack):
    answer, root = await declare(stack, "Payments API down")
    assert "Declared as INC-1 by Alice Carter" in card_text(answer)
    card = root.cards[0]
    assert heading(card).startswith("P1 · INC-1 · Triage")
    assert root.conversation_id == f"{CHANNEL_ID};messageid={root.id}"

    steps = [
        ("incident.take_command", {}, "Alice Carter took command"),
        ("incident.reassess", {"impact": "medium", "urgency": "high"}, "P1 → P2"),
        ("incident.assign", {"responders": Users.BOB.aad_object_id}, "assigned Bob Singh"),
        ("incident.status", {"status": "investigating"}, "from triage to investigating"),
        ("incident.status", {"status": "fixing"}, "from investigating to fixing"),
        ("incident.note", {"note": "Rolling back release 4.2"}, "Rolling back release 4.2"),
        ("incident.status", {"status": "verifying"}, "from fixing to verifying"),
        ("incident.status", {"status": "monitoring"}, "from verifying to monitoring"),
        ("incident.resolve", {"summary": "Release 4.2 rolled back"}, "INC-1 · Resolved by Alice Carter"),
        ("incident.close", {}, "from resolved to closed"),
    ]
    for verb, data, said in steps:
        version_before = card_version(root.cards[0])
        answer = await act(stack, root, verb, **data)
        assert "That did not work" not in card_text(answer), card_text(answer)
        await settled(stack)
        # The card in the thread root was updated in place for everyone...
        assert root.cards[0] == answer or card_text(root.cards[0]).count("INC-1") >= 1
        if verb != "incident.close":
            assert card_version(root.cards[0]) == version_before + 1
        # ...and the thread says who did what.
        replies = [m.text or card_text(m.cards[0]) for m in stack.teams.thread(root.id)]
        assert any(said in text for text in replies), said

    final = card_text(root.cards[0])
    assert "Closed" in final and "Release 4.2 rolled back" in final
    assert len(stack.teams.calls("create_conversation")) == 1  # one thread, updated in place
    assert len(stack.teams.updates(root.id)) >= len(steps)

    async with stack.beacon.deps.uow() as uow:
        timeline = await uow.timeline.of(1)
    kinds = [e.kind for e in timeline]
    for kind in ("declared", "commander_changed", "priority_changed", "responders_assigned", "status_changed",
                 "note", "resolved", "closed"):
        assert kind in kinds, kinds
    changed = next(e for e in timeline if e.kind == "priority_changed")
    assert changed.actor.name == "Alice Carter" and changed.before["priority"] == "P1"
    assert changed.after["priority"] == "P2"
    stack.every_card_is_valid()


async def test_the_card_mentions_commander_and_responders(stack):
    _, root = await declare(stack, commander=Users.BOB.aad_object_id)
    await act(stack, root, "incident.assign", responders=Users.ALICE.aad_object_id)
    await settled(stack)
    entities = root.cards[0]["msteams"]["entities"]
    names = {e["mentioned"]["name"] for e in entities}
    assert names == {"Bob Singh", "Alice Carter"}


async def test_someone_picked_by_id_only_is_named_from_the_teams_roster(stack):
    stack.teams.add_member(Users.CAROL)
    _, root = await declare(stack)
    await act(stack, root, "incident.assign", responders=Users.CAROL.aad_object_id)
    await settled(stack)
    await settled(stack)
    assert "<at>Carol Jones</at>" in card_text(root.cards[0])
    assert stack.teams.calls("get_member")


@pytest.mark.parametrize("command", ["list", "help"])
async def test_list_and_help_answer_in_the_channel(stack, command):
    await declare(stack, "Checkout errors")
    before = len(stack.teams.posted())
    from tests.teams_activities import channel_message

    await stack.send(channel_message(command, service_url=stack.url))
    reply = (await stack.teams.wait_for_posts(before + 1))[-1]
    text = card_text(reply.cards[0])
    assert ("INC-1" in text and "Checkout errors" in text) if command == "list" else "show INC-7" in text


async def test_show_reposts_the_current_card_and_unknown_words_get_help(stack):
    from tests.teams_activities import channel_message

    await declare(stack, "Checkout errors")
    before = len(stack.teams.posted())
    await stack.send(channel_message("show INC-1", service_url=stack.url))
    await stack.send(channel_message("show INC-99", service_url=stack.url))
    await stack.send(channel_message("make coffee", service_url=stack.url))
    replies = (await stack.teams.wait_for_posts(before + 3))[-3:]
    texts = [card_text(r.cards[0]) for r in replies]
    assert heading(replies[0].cards[0]).startswith("P1 · INC-1")
    assert "INC-99 does not exist" in texts[1]
    assert "make coffee" in texts[2] and "@Beacon declare" in texts[2]


async def test_declaring_in_a_personal_chat_posts_the_card_there(stack):
    await stack.send(personal_message("declare Laptop fleet cannot VPN", service_url=stack.url))
    [form] = await stack.teams.wait_for_posts(1)
    from tests.teams_activities import card_action_invoke

    answer = await stack.invoke_card(card_action_invoke(
        "declare.submit", {"title": "Laptop fleet cannot VPN", "impact": "low", "urgency": "medium"},
        reply_to_id=form.id, service_url=stack.url, scope="personal"))
    assert "Declared as INC-1 by Alice Carter" in card_text(answer)
    await settled(stack)
    assert any(heading(c).startswith("P4 · INC-1") for c in stack.teams.cards(form.conversation_id))
