"""Declaring as people do it in a channel: the used form becomes "Declared as INC-n by …" for
everyone, submitting it again declares nothing, a similar open incident is offered first, and
`@Beacon list` says who commands each incident, how old it is, its last update and where it is."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.conftest import Stack
from tests.e2e.helpers import act, card_text, declare, incident_root, settled
from tests.fakes._recording import Message
from tests.teams_activities import Person, Users, card_action_invoke, channel_message


async def open_form(stack: Stack, title: str, from_user: Person = Users.ALICE) -> Message:
    """@Beacon declare <title>: the form Beacon posts in the channel."""
    before = len(stack.teams.posted())
    await stack.send(channel_message(f"declare {title}", service_url=stack.url, from_user=from_user))
    return (await stack.teams.wait_for_posts(before + 1))[-1]


def submit(stack: Stack, form: Message, verb: str = "declare.submit", from_user: Person = Users.ALICE,
           **values: Any) -> dict[str, Any]:
    """A click on the form's button (a new invoke each time, as Teams sends a second click)."""
    data = {"impact": "high", "urgency": "high", "service": "payments-api", **values}
    return card_action_invoke(verb, data, reply_to_id=form.id, service_url=stack.url, from_user=from_user,
                              thread_root=form.conversation_id.partition(";messageid=")[2] or form.id)


async def incident_titles(stack: Stack) -> list[str]:
    async with stack.beacon.deps.uow() as uow:
        return [i.title for i in reversed(await uow.incidents.open())]


async def test_the_used_form_says_what_it_declared_for_everyone_with_a_link_to_the_thread(stack):
    form = await open_form(stack, "Payments API down")
    answer = await stack.invoke_card(submit(stack, form, title="Payments API down"))
    assert "Declared as INC-1 by Alice Carter: Payments API down" in card_text(answer)
    root = await incident_root(stack)
    await settled(stack)
    shown = stack.teams.current(form.id)  # what everyone in the channel now sees instead of the form
    [card] = [a["content"] for a in shown["attachments"]]
    assert "Declared as INC-1 by Alice Carter: Payments API down" in card_text(card)
    assert not any(e.get("type", "").startswith("Input.") for e in card["body"])
    [link] = [a for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    assert link["url"].startswith("https://teams.microsoft.com/l/message/") and root.id in link["url"]
    stack.every_card_is_valid()


async def test_submitting_the_same_form_again_declares_nothing(stack):
    form = await open_form(stack, "Payments API down")
    await stack.invoke_card(submit(stack, form, title="Payments API down"))
    again = await stack.invoke_card(submit(stack, form, title="Payments API down", declareAnyway=True))
    assert "already used" in card_text(again) and "INC-1" in card_text(again)
    assert await incident_titles(stack) == ["Payments API down"]


async def test_two_clicks_on_one_form_at_the_same_moment_make_one_incident(stack):
    form = await open_form(stack, "Payments API down")
    answers = await asyncio.gather(*(stack.invoke_card(submit(stack, form, title="Payments API down",
                                                              from_user=user))
                                     for user in (Users.ALICE, Users.BOB, Users.CAROL)))
    assert await incident_titles(stack) == ["Payments API down"]
    assert all("INC-1" in card_text(a) and "INC-2" not in card_text(a) for a in answers)


async def test_a_similar_open_incident_is_offered_and_joining_it_keeps_what_was_typed(stack):
    await declare(stack, "Payments API down")
    form = await open_form(stack, "payments api is down", from_user=Users.BOB)
    offer = await stack.invoke_card(submit(stack, form, from_user=Users.BOB, title="payments api is down",
                                           description="Card payments failing for Contoso since 10:02"))
    text = card_text(offer)
    assert "INC-1 is open: Payments API down" in text and "Join INC-1 instead" in text
    assert "Card payments failing for Contoso since 10:02" in text  # the form keeps what Bob typed
    assert await incident_titles(stack) == ["Payments API down"]

    joined = await stack.invoke_card(submit(stack, form, "declare.join", from_user=Users.BOB, incidentId=1,
                                            title="payments api is down",
                                            description="Card payments failing for Contoso since 10:02"))
    assert "Bob Singh joined INC-1 (Payments API down) instead of declaring a new incident" in card_text(joined)
    await settled(stack)
    assert await incident_titles(stack) == ["Payments API down"]
    async with stack.beacon.deps.uow() as uow:
        incident = await uow.incidents.get(1)
        notes = [e for e in await uow.timeline.of(1) if e.kind == "note"]
    assert incident is not None and Users.BOB.aad_object_id in {p.aad_object_id for p in incident.responders}
    assert [(n.actor.name if n.actor else "", n.summary) for n in notes] == [
        ("Bob Singh", "Joined from a new declaration: “payments api is down”. "
                      "Card payments failing for Contoso since 10:02")]
    assert "Bob Singh joined INC-1" in card_text(stack.teams.current(form.id)["attachments"][0]["content"])


async def test_declaring_anyway_makes_a_second_incident_and_other_services_are_not_offered(stack):
    await declare(stack, "Payments API down")
    form = await open_form(stack, "Payments API down")
    await stack.invoke_card(submit(stack, form, title="Payments API down", declareAnyway=True))
    other = await open_form(stack, "Payments API down")
    answer = await stack.invoke_card(submit(stack, other, title="Payments API down", service="web-portal"))
    assert "Declared as INC-3" in card_text(answer)
    assert await incident_titles(stack) == ["Payments API down"] * 3


async def test_list_shows_commander_age_last_update_and_a_link_to_each_thread(stack):
    _, first = await declare(stack, "Payments API down")
    await act(stack, first, "incident.take_command", from_user=Users.BOB)
    await act(stack, first, "incident.post_update", update="Failing over to the secondary database",
              audience="responders", from_user=Users.BOB)
    _, second = await declare(stack, "Web portal slow", service="web-portal")
    await settled(stack)
    before = len(stack.teams.posted())
    await stack.send(channel_message("list", service_url=stack.url))
    reply = (await stack.teams.wait_for_posts(before + 1))[-1]
    text = card_text(reply.cards[0])
    assert "Open incidents (2)" in text
    assert "Commander Bob Singh · declared under a minute ago" in text
    assert "Last update" in text and "Failing over to the secondary database" in text
    assert "No commander yet" in text and "No status update yet" in text
    links = [a["url"] for a in _actions(reply.cards[0]) if a["type"] == "Action.OpenUrl"]
    assert len(links) == 2 and second.id in links[0] and first.id in links[1]


def _actions(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if str(node.get("type", "")).startswith("Action.") else []
        return found + [a for value in node.values() for a in _actions(value)]
    if isinstance(node, list):
        return [a for value in node for a in _actions(value)]
    return []
