"""Issue 3 end to end: the communication plan on real time with second-long cadences, through
HTTP, with fake Teams, Graph (sendMail) and Twilio servers."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from bot.wiring import OutsideSettings
from services.config import parse_config
from services.graph import GraphSettings
from services.notify.sms.settings import SmsSettings
from tests.e2e.conftest import E2E_CONFIG, start_stack
from tests.e2e.helpers import act, card_text, declare, eventually, settled
from tests.fakes.graph import FakeGraph
from tests.fakes.sms import FakeTwilio
from tests.harness import BeaconServer

pytestmark = pytest.mark.slow


def plan_config(**communications: str) -> Any:
    data = dict(E2E_CONFIG)
    data["communications"] = {"responder_update_high": "PT2S", "responder_update_other": "PT6S",
                              "stakeholder_update": "PT1H", "grace": "PT0.5S", "late_after": "PT1S",
                              **communications}
    data["channels"] = {"stakeholder_channel": "19:stakeholders@thread.tacv2"}
    data["directory"] = {
        **E2E_CONFIG["directory"],
        "product_head": {"name": "Priya Head", "email": "priya@example.com"},
        "stakeholders": [{"name": "Service Desk", "email": "desk@example.com", "phone": "+15550000001"}],
        "clients": [{"name": "Contoso", "account_owner": {"name": "Avery Owner", "email": "avery@example.com"},
                     "contacts": [{"name": "Casey", "email": "casey@contoso.example", "phone": "+15550000002"}]}],
    }
    return parse_config(data)


def updates(stack, root_id: str) -> list[Any]:  # type: ignore[no-untyped-def]
    """Status-update cards in the incident thread, in arrival order."""
    return [m for m in stack.teams.thread(root_id) if m.cards and "update #" in card_text(m.cards[0])]


def update_numbers(stack, root_id: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(re.search(r"update #(\d+)", card_text(m.cards[0])).group(1)) for m in updates(stack, root_id)]


async def test_updates_follow_the_cadence_of_the_current_impact_and_stop_on_resolve(database_url):
    stack = await start_stack(database_url, plan_config())
    try:
        _, root = await declare(stack, "Checkout failing")
        await stack.teams.wait_for(lambda t: len(updates(stack, root.id)) >= 3, timeout=15)
        # Owner reminded each time, then Beacon posts automatically after the grace period.
        thread = [card_text(m.cards[0]) for m in stack.teams.thread(root.id) if m.cards]
        assert sum("update for INC-1 is due" in c for c in thread) >= 3
        assert all("Automatic responders update" in card_text(m.cards[0]) for m in updates(stack, root.id))
        assert update_numbers(stack, root.id)[:3] == [1, 2, 3]

        await act(stack, root, "incident.reassess", impact="low", urgency="high")
        await settled(stack)
        count = len(updates(stack, root.id))
        await asyncio.sleep(3)  # the old 2 s cadence would have produced another update by now
        assert len(updates(stack, root.id)) == count

        await act(stack, root, "incident.resolve", summary="Rolled back the release")
        await settled(stack)
        resolved_count = len(updates(stack, root.id))
        await asyncio.sleep(2.5)
        assert len(updates(stack, root.id)) == resolved_count
        assert any("INC-1 · Resolved" in card_text(m.cards[0]) and "What fixed it:** Rolled back the release"
                   in card_text(m.cards[0]) for m in stack.teams.thread(root.id) if m.cards)
        stack.every_card_is_valid()
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def test_an_update_due_while_beacon_was_down_is_sent_once_marked_late(database_url):
    config = plan_config(responder_update_high="PT2S", grace="PT1S")
    stack = await start_stack(database_url, config)
    try:
        _, root = await declare(stack, "Checkout failing")
        await stack.beacon.stop()  # down before the first update falls due
        await asyncio.sleep(4.5)  # two due times pass while nobody is running
        restarted = BeaconServer(stack.beacon.settings, stack.beacon.overrides)
        await restarted.start()
        stack.beacon = restarted
        await stack.teams.wait_for(lambda t: len(updates(stack, root.id)) >= 1, timeout=20)
        reminders = [card_text(m.cards[0]) for m in stack.teams.thread(root.id)
                     if m.cards and "update for INC-1 is" in card_text(m.cards[0])]
        assert len(reminders) == 1 and "overdue" in reminders[0]
        assert "(late)" in card_text(updates(stack, root.id)[0].cards[0])
        assert update_numbers(stack, root.id) == [1]  # once, not a burst of the missed ones
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def test_two_instances_on_one_postgresql_post_every_update_exactly_once(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL")
    config = plan_config(responder_update_high="PT1S", grace="PT0.3S")
    stack = await start_stack(database_url, config)
    second = BeaconServer(stack.beacon.settings, stack.beacon.overrides)
    await second.start()
    try:
        roots = [(await declare(stack, f"Outage {i}"))[1] for i in range(3)]
        # Both replicas run the scheduler; wait for a few updates of each incident, however slow the machine.
        await stack.teams.wait_for(lambda _: all(len(update_numbers(stack, r.id)) >= 3 for r in roots) or None,
                                   timeout=60)
        await second.stop()
        await stack.beacon.stop()
        for root in roots:
            numbers = update_numbers(stack, root.id)
            assert len(numbers) >= 2, numbers
            assert numbers == list(range(1, len(numbers) + 1)), numbers  # no gaps, no doubles
    finally:
        await stack.teams.stop()


async def test_emails_and_sms_reach_the_right_people(database_url):
    async with FakeGraph() as graph, FakeTwilio() as twilio:
        outside = OutsideSettings(
            graph=GraphSettings(base_url=graph.base_url, access_token="test-token", mail_sender="noc@example.com"),
            sms=SmsSettings(provider="twilio", sender="+15550009999", twilio_base_url=twilio.url,
                            twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token))
        stack = await start_stack(database_url, plan_config(responder_update_high="PT1H"), outside=outside)
        try:
            _, client_root = await declare(stack, "Contoso checkout down", client="Contoso")
            _, internal_root = await declare(stack, "Reporting slow", impact="low", urgency="low",
                                             service="web-portal")
            await settled(stack)
            by_subject = {}
            for mail in graph.sent_mail():
                by_subject.setdefault(mail.subject, set()).update(mail.to)
            assert by_subject["[INC-1] We are working on a problem: Contoso checkout down"] == {
                "casey@contoso.example", "avery@example.com"}
            assert by_subject["[INC-2] New incident: Reporting slow"] == {"desk@example.com", "priya@example.com"}
            assert all(m.sender == "noc@example.com" for m in graph.sent_mail())
            # SMS only for the high-impact one, to the client's contact with a phone: one segment.
            assert [s.to for s in twilio.sent] == ["+15550000002"]
            assert twilio.sent[0].text.startswith("INC-1: Contoso checkout down, since ")
            assert len(twilio.sent[0].text) <= 160
            assert "Contact Avery Owner." in twilio.sent[0].text

            answer = await act(stack, client_root, "incident.post_update", audience="stakeholders",
                               update="Card payments degraded, failover under way")
            await settled(stack)
            update_mails = [m for m in graph.sent_mail() if "Update 1 on a problem" in m.subject]
            assert {a for m in update_mails for a in m.to} == {"casey@contoso.example", "avery@example.com"}
            assert "failover under way" in update_mails[0].html
            # Every email carries a plain-text part beside the HTML that reads as sentences, not markup.
            for mail in graph.sent_mail():
                assert mail.mime and mail.parts == ["text/plain", "text/html"], mail.subject
                assert not re.search(r"</?[a-zA-Z][^>]*>|&(amp|lt|gt|#\d+);", mail.text), mail.text
            lines = update_mails[0].text.splitlines()
            assert lines[0] == "INC-1 · Update 1 on a problem"
            assert "What is being done: Card payments degraded, failover under way" in lines
            assert "Who to contact: Avery Owner (avery@example.com), your account manager" in lines
            # The poster alone is told where it went and where not, and why.
            told = card_text(answer)
            assert "Your stakeholder update is on its way (only you see this)" in told
            assert "Stakeholder channel: posted in the incident's thread there" in told
            assert "Email: to 2 recipients (Contoso's contacts and Account Owner)" in told
            assert "SMS: not sent: updates go by email" in told
            assert "Freshdesk: not sent: Freshdesk is not set up" in told
            assert "only you see this" not in card_text(client_root.cards[0])
        finally:
            await stack.beacon.stop()
            await stack.teams.stop()


async def test_throttled_mail_is_delivered_once_and_a_dead_route_ends_failed_and_visible(database_url):
    async with FakeGraph() as graph:
        outside = OutsideSettings(graph=GraphSettings(base_url=graph.base_url, access_token="t",
                                                      mail_sender="noc@example.com", max_retries=0))
        stack = await start_stack(database_url, plan_config(responder_update_high="PT1H"), outside=outside,
                                  outbox_max_attempts=5, teams_retry_horizon="PT2S")
        try:
            graph.throttle(1, retry_after=1, path_contains="sendMail")
            _, root = await declare(stack, "Contoso checkout down", client="Contoso")
            await eventually(lambda: len(graph.sent_mail()) == 2, what="both emails sent")
            await settled(stack)
            assert sorted(a for m in graph.sent_mail() for a in m.to) == ["avery@example.com",
                                                                          "casey@contoso.example"]

            # Teams keeps answering 503 past TEAMS_RETRY_HORIZON (2 s here): the note ends failed.
            stack.teams.fail_next(10_000, 503, method="POST", path_contains="/activities")
            await act(stack, root, "incident.note", note="Failover started")

            async def failed() -> bool:
                async with stack.beacon.deps.uow() as uow:
                    timeline = await uow.timeline.of(1)
                return any(e.kind == "delivery_failed" and "thread note" in e.summary for e in timeline)

            for _ in range(200):
                if await failed():
                    break
                await asyncio.sleep(0.1)
            assert await failed(), "the note was not marked failed"
            assert len(stack.teams.calls("reply", failed=True)) > 5  # past OUTBOX_MAX_ATTEMPTS: until the horizon
            status, text = await stack.beacon.get_text("/metrics")
            assert status == 200
            assert 'beacon_outbox_effects{kind="teams.thread_note",state="failed"} 1.0' in text
        finally:
            await stack.beacon.stop()
            await stack.teams.stop()


async def test_a_drill_is_flagged_and_sends_nothing_outside_teams(database_url):
    async with FakeGraph() as graph, FakeTwilio() as twilio:
        outside = OutsideSettings(
            graph=GraphSettings(base_url=graph.base_url, access_token="t", mail_sender="noc@example.com"),
            sms=SmsSettings(provider="twilio", sender="+15550009999", twilio_base_url=twilio.url,
                            twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token))
        stack = await start_stack(database_url, plan_config(responder_update_high="PT1S", grace="PT0.3S"),
                                  outside=outside)
        try:
            from tests.teams_activities import card_action_invoke, channel_message

            await stack.send(channel_message("drill Database failover", service_url=stack.url))
            [form] = await stack.teams.wait_for_posts(1)
            toggle = next(b for b in form.cards[0]["body"] if b.get("id") == "drill")
            assert toggle["value"] == "true"
            await stack.invoke_card(card_action_invoke(
                "declare.submit", {"title": "Drill: Database failover", "impact": "high", "urgency": "high",
                                   "client": "Contoso", "drill": "true"},
                reply_to_id=form.id, service_url=stack.url))
            root = await stack.teams.wait_for(
                lambda t: [m for m in t.posted() if m.kind == "root" and "DRILL INC-1" in card_text(m.cards[0])][0])
            await stack.teams.wait_for(lambda t: len(updates(stack, root.id)) >= 1, timeout=20)
            await act(stack, root, "incident.resolve", summary="Failover rehearsed")
            await settled(stack)
            assert graph.sent_mail() == [] and twilio.sent == []
            assert not [m for m in stack.teams.posted() if "stakeholders" in m.conversation_id]
            assert "DRILL INC-1" in card_text(updates(stack, root.id)[0].cards[0])
        finally:
            await stack.beacon.stop()
            await stack.teams.stop()
