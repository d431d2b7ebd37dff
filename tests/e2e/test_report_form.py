"""The post-incident report form keeps what was typed: through /api/messages, as Teams sends the
dialog's fetch and submit and the card's Action.Execute, each mistake comes back beside its field
with every other value in place, and any number of corrective actions can be added."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.clock import FakeClock
from tests.cardschema import assert_valid_card
from tests.e2e.helpers import card_text, settled
from tests.e2e.test_review import START, _scripted, _stack, _stop, thread_cards
from tests.teams_activities import Users, card_action_invoke, task_fetch, task_submit

TYPED = {"root_cause": "Ключ кэша истёк — 缓存 key expired", "impact": "Checkout failed for 40% of users",
         "lessons": "", "action1_title": "Add a config canary", "action1_owner": "",
         "action1_due": "2026-01-09", "action2_title": "Alert on error rate ≥ 5%",
         "action2_owner": Users.BOB.aad_object_id, "action2_due": "2026-01-16"}


def _inputs(card: dict[str, Any]) -> dict[str, Any]:
    """Every input on the card with the value it shows, however deep in containers."""
    found: dict[str, Any] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("type", "").startswith("Input."):
                found[item["id"]] = item.get("value", "")
            walk(item.get("items", []))
    walk(card["body"])
    return found


def _beside(card: dict[str, Any], input_id: str) -> str:
    """The text shown right after an input (where the form puts that field's problem)."""
    flat: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            flat.append(item)
            walk(item.get("items", []))
    walk(card["body"])
    index = next(i for i, item in enumerate(flat) if item.get("id") == input_id)
    after = flat[index + 1] if index + 1 < len(flat) else {}
    return str(after.get("text", "")) if after.get("type") == "TextBlock" else ""


def _dialog_card(body: dict[str, Any]) -> dict[str, Any]:
    assert body["task"]["type"] == "continue", body
    card = body["task"]["value"]["card"]["content"]
    assert_valid_card(card)
    return card


async def test_the_dialog_shows_each_problem_beside_its_field_and_keeps_every_value(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    try:
        root = await _scripted(stack, clock)
        [request] = [c for c in thread_cards(stack, root.id) if "Write the report" in c]
        assert "task/fetch" in request and "()" not in request and "Priya Head" in request
        status, body = await stack.send(task_fetch({"verb": "review.report_form", "incidentId": 1},
                                                   service_url=stack.url, reply_to_id=root.id))
        assert status == 200
        empty = _dialog_card(body)
        assert "Post-incident report: INC-1" in card_text(empty) and _inputs(empty)["root_cause"] == ""

        status, body = await stack.send(task_submit({"verb": "review.report_submit", "incidentId": 1, "rows": 2,
                                                     **TYPED}, service_url=stack.url, reply_to_id=root.id))
        again = _dialog_card(body)
        shown = _inputs(again)
        assert {k: shown[k] for k in TYPED} == TYPED  # nothing typed is lost
        assert "Lessons learned is required" in _beside(again, "lessons")
        assert "Choose who owns this action" in _beside(again, "action1_owner")
        assert _beside(again, "root_cause") == "" and _beside(again, "action2_due") == ""
        assert "2 fields need attention" in card_text(again) and "()" not in card_text(again)
        async with stack.beacon.deps.uow() as uow:
            assert (await uow.reviews.report(1)).completed_at is None  # nothing stored

        more = {**TYPED, "lessons": "Canary every config change", "action1_owner": Users.ALICE.aad_object_id}
        for rows in (2, 3):  # two more rows, each keeping what is already there
            status, body = await stack.send(task_submit({"verb": "review.report_add_row", "incidentId": 1,
                                                         "rows": rows, **more}, service_url=stack.url))
            grown = _inputs(_dialog_card(body))
            assert {k: grown[k] for k in more} == more and f"action{rows + 1}_title" in grown
        more |= {"action3_title": "Runbook for cache keys", "action3_owner": Users.BOB.aad_object_id,
                 "action3_due": "2026-01-20", "action4_title": "Game day", "action4_owner": Users.ALICE.aad_object_id,
                 "action4_due": "2026-01-30"}
        status, body = await stack.send(task_submit({"verb": "review.report_submit", "incidentId": 1, "rows": 4,
                                                     **more}, service_url=stack.url, reply_to_id=root.id))
        assert body["task"] == {"type": "message",
                                "value": "Report complete. Thank you: the summary is in the incident thread."}
        async with stack.beacon.deps.uow() as uow:
            actions = await uow.reviews.actions_of(1)
            row = await uow.reviews.report(1)
        assert [a.title for a in actions] == ["Add a config canary", "Alert on error rate ≥ 5%",
                                              "Runbook for cache keys", "Game day"]
        assert row.root_cause == TYPED["root_cause"] and row.lessons == "Canary every config change"
        status, body = await stack.send(task_fetch({"verb": "review.report_form", "incidentId": 1},
                                                   service_url=stack.url, reply_to_id=root.id))
        assert body["task"] == {"type": "message", "value": "The post-incident report of INC-1 is already complete."}
    finally:
        await _stop(stack, graph)


async def test_the_card_form_keeps_values_and_checks_each_field_on_its_own(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    try:
        root = await _scripted(stack, clock)
        clock.advance(timedelta(days=12))  # 2026-01-09 and 2026-01-16 are now in the past
        typed = {**TYPED, "lessons": "Canary config", "action1_owner": Users.ALICE.aad_object_id,
                 "root_cause": "   "}
        answer = await stack.invoke_card(card_action_invoke(
            "review.report_submit", {"incidentId": 1, "rows": 2, **typed}, reply_to_id=root.id, service_url=stack.url))
        shown = _inputs(answer)
        assert {k: shown[k] for k in typed} == typed
        assert "The root cause is required" in _beside(answer, "root_cause")
        assert "in the past" in _beside(answer, "action1_due") and "in the past" in _beside(answer, "action2_due")
        assert all(a["type"] == "Action.Execute" for a in answer["actions"])
        grown = await stack.invoke_card(card_action_invoke(
            "review.report_add_row", {"incidentId": 1, "rows": 2, **typed}, reply_to_id=root.id, service_url=stack.url))
        assert "action3_title" in _inputs(grown) and _inputs(grown)["action2_title"] == TYPED["action2_title"]
        await settled(stack)
        stack.every_card_is_valid()
    finally:
        await _stop(stack, graph)
