"""Card actions and dialogs over real HTTP: wire shapes, replays, stale cards, races, bad input."""

from __future__ import annotations

import asyncio

from tests.cardschema import assert_valid_card
from tests.e2e.helpers import act, card_text, card_version, declare, heading, refused, settled
from tests.teams_activities import (
    Users,
    card_action_invoke,
    message_action_fetch,
    message_action_submit,
    task_fetch,
    task_submit,
)


async def timeline_kinds(stack, incident_id: int = 1) -> list[str]:
    """What happened to the incident (delivery outcomes of effects arrive on their own time)."""
    async with stack.beacon.deps.uow() as uow:
        return [e.kind for e in await uow.timeline.of(incident_id) if not e.kind.startswith("delivery_")]


async def test_action_execute_answers_200_with_the_adaptive_card_envelope(stack):
    _, root = await declare(stack)
    activity = card_action_invoke("incident.ack", {"incidentId": 1, "version": card_version(root.cards[0])},
                                  reply_to_id=root.id, service_url=stack.url)
    status, body = await stack.send(activity)
    assert status == 200
    assert set(body) == {"statusCode", "type", "value"}
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["type"] == "AdaptiveCard" and "Acknowledged" in card_text(body["value"])


async def test_a_replayed_invoke_is_answered_with_the_current_card_and_applied_once(stack):
    _, root = await declare(stack)
    activity = card_action_invoke("incident.note", {"incidentId": 1, "version": card_version(root.cards[0]),
                                                    "note": "DB failover started"},
                                  reply_to_id=root.id, service_url=stack.url)
    first = await stack.invoke_card(activity)
    again = await stack.invoke_card(activity)
    assert (await timeline_kinds(stack)).count("note") == 1
    assert "already applied" in card_text(again)
    assert card_version(again) == card_version(first)


async def test_a_stale_card_gets_the_current_card_and_what_changed_meanwhile(stack):
    _, root = await declare(stack)
    shown = card_version(root.cards[0])
    await act(stack, root, "incident.status", status="investigating", from_user=Users.BOB)
    answer = await act(stack, root, "incident.status", version=shown, status="fixing")
    text = card_text(answer)
    assert "out of date" in text and "Bob Singh moved it from triage to investigating" in text
    assert "INC-1 · **Investigating**" in text  # Alice's change was not applied over Bob's
    assert (await timeline_kinds(stack)).count("status_changed") == 1


async def test_a_stale_card_still_applies_a_change_nobody_else_touched(stack):
    _, root = await declare(stack)
    shown = card_version(root.cards[0])
    await act(stack, root, "incident.status", status="investigating", from_user=Users.BOB)
    answer = await act(stack, root, "incident.reassess", version=shown, impact="low", urgency="low")
    text = card_text(answer)
    assert heading(answer).startswith("P5 · INC-1") and "Applied on top of changes you had not seen" in text
    assert "Bob Singh moved it from triage to investigating" in text


async def test_two_responders_at_the_same_moment_lose_nothing(stack):
    _, root = await declare(stack)
    version = card_version(root.cards[0])

    def click(verb: str, user, **data):  # type: ignore[no-untyped-def]
        return stack.invoke_card(card_action_invoke(verb, {"incidentId": 1, "version": version, **data},
                                                    reply_to_id=root.id, service_url=stack.url, from_user=user))

    await asyncio.gather(click("incident.note", Users.ALICE, note="Checked the load balancer"),
                         click("incident.assign", Users.BOB, responders=Users.CAROL.aad_object_id),
                         click("incident.ack", Users.CAROL))
    kinds = await timeline_kinds(stack)
    assert kinds.count("note") == 1 and kinds.count("responders_assigned") == 1 and kinds.count("acknowledged") == 1
    # Two conflicting changes from the same (current) card: exactly one wins, the other is told.
    async with stack.beacon.deps.uow() as uow:
        version = (await uow.incidents.get(1)).version
    answers = await asyncio.gather(click("incident.status", Users.ALICE, status="investigating"),
                                   click("incident.status", Users.BOB, status="fixing"))
    kinds = await timeline_kinds(stack)
    assert kinds.count("status_changed") == 1
    assert sum("out of date" in card_text(a) for a in answers) == 1
    await settled(stack)
    async with stack.beacon.deps.uow() as uow:
        incident = await uow.incidents.get(1)
    assert card_version(root.cards[0]) == incident.version


async def test_bad_card_data_is_answered_and_changes_nothing(stack):
    """What the card cannot mean (an unknown verb, an incident that does not exist, a garbled id)
    is a Universal Action error: Teams shows the message and keeps the clicker's card and its
    buttons. A value the incident refuses is said on the card, its buttons still there."""
    _, root = await declare(stack)
    version = card_version(root.cards[0])
    refused = [
        ("incident.frobnicate", {"incidentId": 1, "version": version}, "Unknown action"),
        ("review.report_form", {"incidentId": 1}, "Unknown action"),  # a dialog's verb, not a card's
        ("incident.ack", {"incidentId": 999, "version": 1}, "INC-999 does not exist"),
        ("incident.ack", {"incidentId": "one", "version": 1}, "incidentId must be a number"),
    ]
    said = [
        ("incident.status", {"incidentId": 1, "version": version, "status": "exploded"}, "unknown status"),
        ("incident.reassess", {"incidentId": 1, "version": version, "impact": "huge", "urgency": "low"},
         "impact must be high, medium or low"),
        ("incident.note", {"incidentId": 1, "version": version, "note": "x" * 100_000}, "longer than"),
        ("incident.note", {"incidentId": 1, "version": version, "note": {"nested": ["junk"]}}, "note must be text"),
    ]
    before = await timeline_kinds(stack)
    for verb, data, message in refused:
        answer = await stack.invoke_refused(card_action_invoke(verb, data, reply_to_id=root.id, service_url=stack.url))
        assert message in answer, (verb, answer)
    for verb, data, message in said:
        answer = await stack.invoke_card(card_action_invoke(verb, data, reply_to_id=root.id, service_url=stack.url))
        assert message in card_text(answer), (verb, card_text(answer)[:300])
        assert "More…" in card_text(answer)  # the card and its buttons, not an error card instead
    assert await timeline_kinds(stack) == before


async def test_declaring_without_a_title_shows_the_form_again_with_the_error(stack):
    from tests.teams_activities import channel_message

    await stack.send(channel_message("declare", service_url=stack.url))
    [form] = await stack.teams.wait_for_posts(1)
    answer = await stack.invoke_card(card_action_invoke("declare.submit", {"title": " ", "impact": "high"},
                                                        reply_to_id=form.id, service_url=stack.url))
    assert "title is required" in card_text(answer)
    assert any(b.get("id") == "title" for b in answer["body"])
    async with stack.beacon.deps.uow() as uow:
        assert await uow.incidents.open() == []


async def test_the_declare_button_opens_a_dialog_and_submitting_it_declares(stack):
    status, body = await stack.send(task_fetch({"verb": "declare.form"}, service_url=stack.url))
    assert status == 200 and body["task"]["type"] == "continue"
    info = body["task"]["value"]
    assert info["card"]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert_valid_card(info["card"]["content"])
    assert info["card"]["content"]["actions"][0]["type"] == "Action.Submit"

    status, body = await stack.send(task_submit({"verb": "declare.submit", "title": ""}, service_url=stack.url))
    assert body["task"]["type"] == "continue" and "title is required" in card_text(body["task"]["value"])

    status, body = await stack.send(task_submit(
        {"verb": "declare.submit", "title": "Web portal slow", "impact": "medium", "urgency": "medium",
         "service": "web-portal"}, service_url=stack.url))
    assert body == {"task": {"type": "message", "value": "INC-1 declared: Web portal slow. "
                                                          "The incident card is in the incidents thread."}}
    await settled(stack)
    assert any(heading(c).startswith("P3 · INC-1") for c in stack.teams.cards())


async def test_declare_from_a_message_prefills_the_form(stack):
    status, body = await stack.send(message_action_fetch(
        "<p>Customers report <b>checkout 500s</b></p><p>since 10:02</p>", service_url=stack.url))
    assert status == 200
    card = body["task"]["value"]["card"]["content"]
    assert_valid_card(card)
    title = next(b for b in card["body"] if b.get("id") == "title")
    assert title["value"] == "Customers report checkout 500s"
    description = next(b for b in card["body"] if b.get("id") == "description")
    assert "since 10:02" in description["value"] and "teams.microsoft.com/l/message" in description["value"]

    status, body = await stack.send(message_action_submit(
        {"title": "Checkout 500s", "impact": "high", "urgency": "medium", "service": "payments-api"},
        service_url=stack.url))
    assert status == 200  # the declarer is told where the incident went
    assert body["task"] == {"type": "message", "value": "INC-1 declared: Checkout 500s. Its card is in this "
                                                        "channel, where responders follow it."}
    await settled(stack)
    assert any(heading(c).startswith("P2 · INC-1") for c in stack.teams.cards())
    async with stack.beacon.deps.uow() as uow:
        assert (await uow.incidents.get(1)).source == "message"


async def test_malformed_activities_get_a_4xx_with_a_json_error(stack):
    cases = [
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400),
        (b'{"type": "message"}', {"Content-Type": "application/json"}, 400),
        (b'{"type": "message", "serviceUrl": "http://x", "conversation": "c", "from": {"id": "1"}}',
         {"Content-Type": "application/json"}, 400),
        (b"hello", {"Content-Type": "text/plain"}, 415),
        (b"x" * 300_000, {"Content-Type": "application/json"}, 413),
    ]
    for raw, headers, expected in cases:
        status, body = await stack.beacon.post("/api/messages", raw=raw, headers=headers)
        assert status == expected, (raw[:40], body)
        assert isinstance(body, dict) and body.get("error"), body
    async with stack.beacon.deps.uow() as uow:
        assert await uow.incidents.open() == []


async def test_a_token_without_an_app_id_gets_a_clear_401(stack):
    from tests.teams_activities import channel_message

    status, body = await stack.beacon.post("/api/messages", channel_message("help", service_url=stack.url),
                                           headers={"Authorization": "Bearer abc"})
    assert status == 401 and "MicrosoftAppId" in body["error"]


async def test_health_and_readiness(stack):
    assert await stack.beacon.get("/healthz") == (200, {"status": "ok"})
    assert await stack.beacon.get("/readyz") == (200, {"status": "ready"})


async def test_only_the_commander_or_an_admin_resolves_and_a_refusal_is_recorded(stack):
    _, root = await declare(stack, commander=Users.ALICE.aad_object_id)
    message = await refused(stack, root, "incident.resolve", from_user=Users.BOB, summary="I think it is fine")
    assert message == "Not allowed: only the commander (Alice Carter) or an incident admin can resolve INC-1."
    async with stack.beacon.deps.uow() as uow:
        incident = await uow.incidents.get(1)
        timeline = await uow.timeline.of(1)
    assert incident.status.value == "triage"
    assert timeline[-1].kind == "refused" and "Bob Singh tried to resolve" in timeline[-1].summary
    answer = await act(stack, root, "incident.resolve", from_user=Users.ALICE, summary="Cache flushed")
    assert "Resolved" in card_text(answer)


async def test_a_stakeholder_update_from_a_stale_card_says_where_it_went_and_what_changed_since(stack):
    _, root = await declare(stack)
    shown = card_version(root.cards[0])
    for number in range(1, 8):  # more changes than the card lists: the earliest are counted
        await act(stack, root, "incident.note", note=f"Check {number} done", from_user=Users.BOB)
    answer = await act(stack, root, "incident.post_update", version=shown, audience="stakeholders",
                       update="Card payments degraded, failover under way")
    assert_valid_card(answer)
    text = card_text(answer)
    assert "Your stakeholder update is on its way (only you see this)" in text and "Email: " in text
    assert "Applied on top of changes you had not seen" in text
    assert "Check 7 done" in text and "Check 3 done" in text and "Check 2 done" not in text
    assert "and 2 earlier changes" in text
    assert text.index("on its way") < text.index("Email: ") < text.index("Applied on top") < text.index("Check 7")
