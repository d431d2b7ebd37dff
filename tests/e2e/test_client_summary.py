"""Client versus internal report, through /api/messages, the outbox and a fake Graph mailbox: the
organisation's people get the full report; the client's contacts get a customer summary that the
report owner reads, may edit in a dialog, and approves; it goes out once, and an internal note
never reaches it."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.clock import FakeClock
from services.config import parse_config
from tests.cardschema import assert_valid_card
from tests.e2e.conftest import E2E_CONFIG
from tests.e2e.helpers import act, card_text, declare, eventually, settled
from tests.e2e.test_review import _stack_with, _stop
from tests.teams_activities import Users, card_action_invoke, task_fetch, task_submit

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CANARY = "CANARY-7f3a9 we think Bob's cache flush did it"
OWNER = Users.CAROL  # Contoso's Account Owner: the report owner of Contoso's incidents
CONTACTS = {"dana@contoso-client.example", "erin@contoso-client.example"}


def client_config() -> Any:
    data = dict(E2E_CONFIG)
    data["directory"] = {
        "product_head": {"name": "Priya Head", "email": "priya@example.com", "aad_object_id": "aad-priya"},
        "teams": [{"name": "payments", "members": [
            {"name": Users.BOB.name, "aad_object_id": Users.BOB.aad_object_id, "email": "bob@example.com"}]},
            {"name": "web"}],
        "clients": [{"name": "Contoso", "account_owner": {
            "name": OWNER.name, "aad_object_id": OWNER.aad_object_id, "email": "carol@example.com"},
            "contacts": [{"name": "Dana Client", "email": "dana@contoso-client.example"},
                         {"name": "Erin Client", "email": "erin@contoso-client.example"}]}],
    }
    return parse_config(data)


async def _resolved_with_report(stack: Any, clock: FakeClock) -> Any:
    _, root = await declare(stack, "Checkout failing", client="Contoso", impact_time="08:40")
    for minutes, verb, data in ((5, "incident.take_command", {}), (1, "incident.note", {"note": CANARY}),
                                (1, "incident.post_update", {"audience": "stakeholders",
                                                             "update": "Card payments fail; we are on it"}),
                                (30, "incident.resolve", {"summary": "Rolled back the release"})):
        clock.advance(timedelta(minutes=minutes))
        await settled(stack)
        await act(stack, root, verb, **data)
    await settled(stack)
    report = {"incidentId": 1, "root_cause": "A configuration change expired the payment cache",
              "lessons": CANARY, "impact": "Card payments failed for about a third of checkouts",
              "action1_title": "Check configuration changes against a canary first",
              "action1_owner": Users.BOB.aad_object_id, "action1_due": "2026-01-09"}
    answer = await stack.invoke_card(card_action_invoke("review.report_submit", report, reply_to_id=root.id,
                                                        service_url=stack.url, from_user=OWNER))
    assert "Report complete" in card_text(answer)
    await settled(stack)
    return root


def _summary_message(stack: Any, root: Any) -> Any:
    found = [m for m in stack.teams.thread(root.id) if m.cards and "Customer summary of INC-1" in card_text(m.cards[0])]
    assert len(found) == 1, [card_text(m.cards[0])[:200] for m in stack.teams.thread(root.id) if m.cards]
    return found[0]


def _click(stack: Any, root: Any, message: Any, verb: str, data: dict[str, Any], who: Any = OWNER) -> dict[str, Any]:
    return card_action_invoke(verb, data, reply_to_id=message.id, thread_root=root.id, service_url=stack.url,
                              from_user=who)


def _to_contacts(graph: Any) -> list[Any]:
    return [m for m in graph.sent_mail() if set(m.to) & CONTACTS]


def _dialog(body: dict[str, Any]) -> dict[str, Any]:
    assert body["task"]["type"] == "continue", body
    card = body["task"]["value"]["card"]["content"]
    assert_valid_card(card)
    return card


async def test_the_client_gets_only_the_summary_its_owner_approved_once(database_url, tmp_path: Path):
    clock = FakeClock(START)
    stack, graph = await _stack_with(database_url, clock, client_config())
    try:
        root = await _resolved_with_report(stack, clock)
        reports = [m for m in graph.sent_mail() if "Post-incident report" in m.subject]
        assert {a for m in reports for a in m.to} == {"carol@example.com"}  # the organisation's people only
        assert not [m for m in _to_contacts(graph) if "summary" in m.subject.lower()]  # nothing before approval
        message = _summary_message(stack, root)
        draft = card_text(message.cards[0])
        assert "waiting for approval" in draft and OWNER.aad_object_id in draft  # the owner is mentioned
        assert "Card payments failed for about a third of checkouts" in draft and "Rolled back the release" in draft
        assert "CANARY" not in draft
        # only the report owner (or an admin) approves: not the commander
        refusal = await stack.invoke_refused(_click(stack, root, message, "review.client_approve",
                                                    {"incidentId": 1, "revision": 1}, Users.ALICE))
        assert "only the report owner or an incident admin" in refusal
        # edit in the dialog: an emptied section comes back with everything typed kept
        status, body = await stack.send(task_fetch({"verb": "review.client_edit", "incidentId": 1, "revision": 1},
                                                   service_url=stack.url, reply_to_id=message.id,
                                                   thread_root=root.id, from_user=OWNER))
        form = _dialog(body)
        typed = {i["id"]: i.get("value", "") for i in form["body"] if i["type"] == "Input.Text"}
        assert set(typed) == {"happened", "impact_window", "done", "prevention"}
        typed |= {"done": "", "happened": "Card payments failed for about a third of checkouts."}
        status, body = await stack.send(task_submit({"verb": "review.client_save", "incidentId": 1, "revision": 1,
                                                     **typed}, service_url=stack.url, reply_to_id=message.id,
                                                    thread_root=root.id, from_user=OWNER))
        again = _dialog(body)
        assert "“What we did” must not be empty" in card_text(again)
        assert {i["id"]: i.get("value", "") for i in again["body"] if i["type"] == "Input.Text"} == typed
        typed["done"] = "We rolled back the change within 40 minutes."
        status, body = await stack.send(task_submit({"verb": "review.client_save", "incidentId": 1, "revision": 1,
                                                     **typed}, service_url=stack.url, reply_to_id=message.id,
                                                    thread_root=root.id, from_user=OWNER))
        assert "We rolled back the change within 40 minutes" in card_text(_dialog(body))
        await settled(stack)
        assert not _to_contacts(graph) or all("summary" not in m.subject.lower() for m in _to_contacts(graph))
        # the card in the thread still shows the first draft: approving it sends nothing
        stale = await stack.invoke_card(_click(stack, root, message, "review.client_approve",
                                               {"incidentId": 1, "revision": 1}))
        assert "changed after this card was shown: nothing was sent" in card_text(stale)
        assert "We rolled back the change within 40 minutes" in card_text(stale)
        await settled(stack)
        assert not [m for m in _to_contacts(graph) if "summary" in m.subject.lower()]
        # approved twice at once, and once more later: each contact gets it once
        clicks = [stack.send(_click(stack, root, message, "review.client_approve", {"incidentId": 1, "revision": 2}))
                  for _ in range(2)]
        answers = [card_text(body["value"]) for _, body in await asyncio.gather(*clicks)]
        assert sum("Sent to dana@contoso-client.example, erin@contoso-client.example" in a for a in answers) == 1
        later = await stack.invoke_card(_click(stack, root, message, "review.client_approve",
                                               {"incidentId": 1, "revision": 2}))
        assert "Already sent" in card_text(later) and f"Approved by {OWNER.name}" in card_text(later)
        await settled(stack)
        summaries = [m for m in _to_contacts(graph) if "summary" in m.subject.lower()]
        assert sorted(a for m in summaries for a in m.to) == sorted(CONTACTS)
        mail = summaries[0]
        assert mail.subject == "[INC-1] Incident summary: Checkout failing"
        for body_text in (mail.text, html.unescape(re.sub(r"<[^>]+>", "\n", mail.html))):
            assert "CANARY" not in body_text and "/reports/INC-1" not in body_text and "delivery" not in body_text
            assert "We rolled back the change within 40 minutes." in body_text
            assert "From 5 Jan 2026 08:40 UTC to 5 Jan 2026 09:37 UTC (57 min)" in body_text
            assert "Check configuration changes against a canary first." in body_text
            assert f"Questions? Contact {OWNER.name} at carol@example.com." in body_text
            assert "Follow this and every other incident affecting Contoso on your status page" in body_text
        link = re.search(r"https://beacon\.example\.com(/status/Contoso\?\S+)", mail.text)
        assert link is not None, mail.text
        status, shown = await stack.beacon.get_text(link.group(1))
        assert status == 200 and "Checkout failing" in shown  # the summary's status link opens the client's page
        page = tmp_path / "client-summary.html"
        page.write_text(mail.html, encoding="utf-8")  # read as the client would
        reader = re.sub(r"\n\s*\n+", "\n\n", html.unescape(re.sub(r"<[^>]+>", "\n", page.read_text("utf-8")))).strip()
        assert reader.splitlines()[0] == "Incident summary: Checkout failing"
        assert reader.index("What happened") < reader.index("When you were affected") < reader.index(
            "What we did") < reader.index("What prevents a recurrence") < reader.index("Questions?")
        # no mail any contact got says what was only noted internally
        assert all("CANARY" not in m.text + m.html for m in _to_contacts(graph))
        async with stack.beacon.deps.uow() as uow:
            kinds = [e.kind for e in await uow.timeline.of(1)]
        assert kinds.count("client_summary_sent") == 1 and kinds.count("client_summary_edited") == 1
        stack.every_card_is_valid()
    finally:
        await _stop(stack, graph)


async def test_an_internal_incident_has_no_client_summary(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack_with(database_url, clock, client_config())
    try:
        _, root = await declare(stack, "Checkout failing")
        await act(stack, root, "incident.resolve", summary="Rolled back")
        await settled(stack)
        await stack.invoke_card(card_action_invoke("review.report_submit", {
            "incidentId": 1, "root_cause": "x", "lessons": "y", "action1_title": "z",
            "action1_owner": Users.BOB.aad_object_id, "action1_due": "2026-01-09"}, reply_to_id=root.id,
            service_url=stack.url, from_user=Users.ALICE))
        await settled(stack)
        assert not [m for m in stack.teams.thread(root.id) if m.cards and "Customer summary" in card_text(m.cards[0])]
        assert "priya@example.com" in {a for m in graph.sent_mail() if "Post-incident report" in m.subject
                                       for a in m.to}
    finally:
        await _stop(stack, graph)


async def test_a_review_invitation_the_client_gets_does_not_link_the_internal_report(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack_with(database_url, clock, client_config())
    try:
        root = await _resolved_with_report(stack, clock)
        answer = await stack.invoke_card(card_action_invoke(
            "review.schedule", {"incidentId": 1, "include_client": "true"}, reply_to_id=root.id,
            service_url=stack.url, from_user=OWNER))
        assert "Review scheduled" in card_text(answer)
        await settled(stack)
        [event] = graph.events.values()
        invited = {a["emailAddress"]["address"] for a in event["attendees"]}
        assert CONTACTS <= invited  # the client is invited, as asked
        body = event["body"]["content"]
        assert "/reports/INC-1" not in body and "CANARY" not in body
        assert "the post-incident report is linked in the incident's thread" in body
    finally:
        await _stop(stack, graph)


async def test_automatic_updates_the_client_gets_leave_internal_notes_out(database_url):
    """Nobody posts for stakeholders: Beacon's automatic update reaches the client's contacts by
    email with what changed, but not what a responder only noted for the team."""
    data = client_config().model_dump()
    data["communications"] = {"responder_update_high": "PT1H", "stakeholder_update": "PT2S", "grace": "PT0.5S"}
    stack, graph = await _stack_with(database_url, None, parse_config(data))  # type: ignore[arg-type]
    try:
        _, root = await declare(stack, "Checkout failing", client="Contoso")
        await settled(stack)
        await act(stack, root, "incident.note", note=CANARY)
        await settled(stack)
        await act(stack, root, "incident.status", status="investigating")

        def automatic() -> list[Any]:
            return [m for m in _to_contacts(graph) if "investigating" in m.text]

        await eventually(lambda: automatic(), what="an automatic stakeholder update to the client", timeout=20)
        assert all("CANARY" not in m.text + m.html for m in _to_contacts(graph))
        link = re.search(r"on your status page: https://beacon\.example\.com(/status/Contoso\?\S+)",
                         automatic()[0].text)
        assert link is not None, automatic()[0].text  # the automatic update links the client's status page too
        status, shown = await stack.beacon.get_text(link.group(1))
        assert status == 200 and "Checkout failing" in shown
        async with stack.beacon.deps.uow() as uow:
            updates = [e for e in await uow.timeline.of(1) if e.kind == "status_update"]
        assert updates and all("CANARY" not in e.summary for e in updates
                               if (e.after or {}).get("audience") == "stakeholders")
    finally:
        await _stop(stack, graph)
