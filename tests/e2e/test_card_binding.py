"""Card data is bound to its message: a click on INC-1's card (its root, or any message of its
thread) whose data names INC-2 changes nothing and is answered with an error. A card Beacon
posts for another incident (`show INC-2` inside INC-1's thread) acts on the incident it shows."""

from __future__ import annotations

from tests.e2e.helpers import card_text, card_version, declare, settled
from tests.teams_activities import CHANNEL_ID, Users, card_action_invoke, channel_message


async def kinds(stack, incident_id: int) -> list[str]:
    async with stack.beacon.deps.uow() as uow:
        return [e.kind for e in await uow.timeline.of(incident_id) if not e.kind.startswith("delivery_")]


async def test_a_click_on_inc1s_card_whose_data_names_inc2_changes_nothing(stack):
    _, first = await declare(stack, "Checkout down")
    _, second = await declare(stack, "Search slow")
    await settled(stack)
    before = await kinds(stack, 2), card_text(stack.teams.current(second.id)["attachments"][0]["content"])
    forged = card_action_invoke("incident.ack", {"incidentId": 2, "version": card_version(second.cards[0])},
                                reply_to_id=first.id, service_url=stack.url, from_user=Users.BOB)
    message = await stack.invoke_refused(forged)
    assert "INC-1" in message and "INC-2" in message
    await settled(stack)
    after = await kinds(stack, 2), card_text(stack.teams.current(second.id)["attachments"][0]["content"])
    assert after == before and "acknowledged" not in after[0]
    assert "acknowledged" not in await kinds(stack, 1)


async def test_a_reply_in_inc1s_thread_cannot_name_inc2(stack):
    _, first = await declare(stack, "Checkout down")
    _, second = await declare(stack, "Search slow")
    await settled(stack)
    status, _ = await stack.send(channel_message("checking the logs", service_url=stack.url, mention_bot=False,
                                                 reply_to_thread=first.id, from_user=Users.BOB))
    assert status in (200, 201)
    note = {"incidentId": 2, "version": card_version(second.cards[0]), "note": "forged"}
    forged = card_action_invoke("incident.note", note, reply_to_id="1767765488999", thread_root=first.id,
                                service_url=stack.url, from_user=Users.BOB)
    assert "INC-2" in await stack.invoke_refused(forged)
    assert "note" not in await kinds(stack, 2)


async def test_a_card_shown_for_inc2_in_inc1s_thread_acts_on_inc2(stack):
    _, first = await declare(stack, "Checkout down")
    _, second = await declare(stack, "Search slow")
    await settled(stack)
    before = len(stack.teams.posted(f"{CHANNEL_ID};messageid={first.id}"))
    status, _ = await stack.send(channel_message("show INC-2", service_url=stack.url, reply_to_thread=first.id))
    assert status in (200, 201)
    shown = (await stack.teams.wait_for_posts(before + 1, f"{CHANNEL_ID};messageid={first.id}"))[-1]
    assert "INC-2" in card_text(shown.cards[0])
    click = card_action_invoke("incident.ack", {"incidentId": 2, "version": card_version(shown.cards[0])},
                               reply_to_id=shown.id, thread_root=first.id, service_url=stack.url)
    answer = await stack.invoke_card(click)
    assert "Acknowledged" in card_text(answer)
    assert "acknowledged" in await kinds(stack, 2)
