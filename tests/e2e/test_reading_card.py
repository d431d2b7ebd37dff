"""The incident card through /api/messages as Teams shows it: the impact's start typed on the form
on the declarer's clock, and each person's own view (Teams refreshing the card for the commander)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio

from services.clock import FakeClock
from tests.e2e.conftest import start_stack
from tests.e2e.helpers import act, card_text, declare, dialog_card, open_dialog, settled
from tests.teams_activities import Users, card_action_invoke, channel_message

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 09:00 in London (GMT) too


@pytest_asyncio.fixture
async def clocked(database_url: str) -> Any:
    clock = FakeClock(NOW)
    stack = await start_stack(database_url, clock=clock)
    yield stack, clock
    await stack.beacon.stop()
    await stack.teams.stop()


def titles(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action.") and "title" in node:
            found.append(node["title"])
        for value in node.values():
            found += titles(value)
    elif isinstance(node, list):
        for value in node:
            found += titles(value)
    return found


async def test_the_impact_counts_from_the_start_typed_on_the_declarers_clock(clocked: Any) -> None:
    stack, clock = clocked
    _, root = await declare(stack, "Payments API down", impact_time="08:20")  # London, as the declarer
    await settled(stack)
    card = root.cards[0]
    assert "Impact for **40 min** (impact since {{TIME(2026-01-05T08:20:00Z)}}" in card_text(card)
    async with stack.beacon.deps.uow() as uow:
        assert (await uow.incidents.get(1)).impact_started_at == datetime(2026, 1, 5, 8, 20, tzinfo=UTC)
    clock.advance(timedelta(minutes=30))
    await act(stack, root, "incident.ack")
    await settled(stack)
    assert "Impact for **1 h 10 min**" in card_text(root.cards[0])


async def test_an_impossible_start_is_refused_on_the_form_with_what_was_typed(clocked: Any) -> None:
    stack, _ = clocked
    await stack.send(channel_message("declare Payments", service_url=stack.url))
    form = (await stack.teams.wait_for_posts(1))[-1]
    values = {"title": "Payments API down", "impact": "high", "urgency": "high", "impact_date": "2026-01-06",
              "impact_time": "08:20", "description": "card payments fail"}
    answer = await stack.invoke_card(card_action_invoke("declare.submit", values, reply_to_id=form.id,
                                                        service_url=stack.url))
    assert "the impact start is in the future" in card_text(answer)
    kept = {b["id"]: b.get("value") for b in answer["body"] if "id" in b}
    assert kept["impact_date"] == "2026-01-06" and kept["impact_time"] == "08:20"
    assert kept["title"] == "Payments API down" and kept["description"] == "card payments fail"
    async with stack.beacon.deps.uow() as uow:
        assert await uow.incidents.get(1) is None


async def test_teams_refreshes_the_card_for_the_commander_who_is_not_offered_take_command(clocked: Any) -> None:
    stack, _ = clocked
    _, root = await declare(stack, "Payments API down")
    await act(stack, root, "incident.take_command", from_user=Users.ALICE)
    await settled(stack)
    shared = root.cards[0]
    assert shared["refresh"]["userIds"] == [Users.ALICE.id]
    assert shared["refresh"]["action"]["verb"] == "incident.refresh"
    assert "Take command" in titles(shared)  # under More…, for an incident admin taking over

    def refresh_as(person: Any) -> dict[str, Any]:
        return card_action_invoke("incident.refresh", shared["refresh"]["action"]["data"], reply_to_id=root.id,
                                  service_url=stack.url, from_user=person, trigger="automatic")

    alices = await stack.invoke_card(refresh_as(Users.ALICE))
    bobs = await stack.invoke_card(refresh_as(Users.BOB))
    assert "Take command" not in titles(alices) and "Post update" in titles(alices)
    assert "Take command" in titles(bobs)
    assert "Alice Carter" in card_text(alices)  # the commander, named


def datasets(node: Any) -> list[str]:
    """The people pickers' datasets anywhere on a card (under More…, in show-card forms too)."""
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("choices.data"), dict):
            found.append(node["choices.data"]["dataset"])
        for value in node.values():
            found += datasets(value)
    elif isinstance(node, list):
        for value in node:
            found += datasets(value)
    return found


async def test_pickers_on_cards_in_a_channel_search_its_members_not_the_whole_directory(clocked: Any) -> None:
    """Teams' org-wide people picker works in one-to-one chats, dialogs and tabs only: in a
    channel, the declare form's commander would find nobody. Assign opens a dialog, where the
    whole directory is searched, and leaves no picker on the incident card."""
    stack, _ = clocked
    await stack.send(channel_message("declare Payments", service_url=stack.url))
    form = (await stack.teams.wait_for_posts(1))[-1]
    _, root = await declare(stack, "Payments API down")
    await settled(stack)
    assert set(datasets(form.cards[0])) == {"graph.microsoft.com/users?scope=currentContext"}
    assert datasets(root.cards[0]) == []
    assign = dialog_card(await open_dialog(stack, root, "incident.assign"))
    assert datasets(assign) == ["graph.microsoft.com/users"]
