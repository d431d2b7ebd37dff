"""Issue 6 end to end: report request on resolve, the report in every format behind a signed link,
the review meeting through a fake Graph, follow-up action reminders on a fake clock, drills, metrics."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.review import REVIEW_SCHEDULER
from bot.wiring import OutsideSettings
from services.clock import FakeClock
from services.config import parse_config
from services.graph import GraphSettings
from services.notify.sms.settings import SmsSettings
from services.review.report import SECTIONS
from tests.e2e.conftest import E2E_CONFIG, start_stack
from tests.e2e.helpers import act, card_text, declare, settled
from tests.fakes.graph import FakeGraph
from tests.teams_activities import Person, Users, card_action_invoke, channel_message

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def review_config() -> Any:
    data = dict(E2E_CONFIG)
    data["directory"] = {
        "product_head": {"name": "Priya Head", "email": "priya@example.com", "aad_object_id": "aad-priya"},
        "stakeholders": [{"name": "Service Desk", "email": "desk@example.com"}],
        "teams": [{"name": "payments", "members": [
            {"name": Users.BOB.name, "aad_object_id": Users.BOB.aad_object_id, "email": "bob@example.com"},
            {"name": Users.ALICE.name, "aad_object_id": Users.ALICE.aad_object_id, "email": "alice@example.com"}]},
            {"name": "web"}],
        "clients": [{"name": "Contoso", "account_owner": {"name": "Avery", "email": "avery@example.com"}}],
    }
    return parse_config(data)


async def _stack(database_url: str, clock: FakeClock) -> tuple[Any, FakeGraph]:
    return await _stack_with(database_url, clock, review_config())


async def _stack_with(database_url: str, clock: FakeClock, config: Any) -> tuple[Any, FakeGraph]:
    graph = await FakeGraph().start()
    outside = OutsideSettings(graph=GraphSettings(base_url=graph.base_url, access_token="t",
                                                  organizer_user_id="bridge@example.com",
                                                  mail_sender="noc@example.com"), sms=SmsSettings(provider=""))
    stack = await start_stack(database_url, config, outside=outside, clock=clock,
                              report_link_secret="s3cret", public_url="https://beacon.example.com")
    return stack, graph


async def _stop(stack: Any, graph: FakeGraph) -> None:
    await stack.beacon.stop()
    await stack.teams.stop()
    await graph.stop()


def thread_cards(stack: Any, root_id: str) -> list[str]:
    return [card_text(m.cards[0]) for m in stack.teams.thread(root_id) if m.cards]


async def _scripted(stack: Any, clock: FakeClock, **form: str) -> Any:
    _, root = await declare(stack, "Checkout failing", **form)
    steps: list[tuple[int, str, dict[str, str]]] = [
        (5, "incident.take_command", {}), (0, "incident.assign", {"responders": Users.BOB.aad_object_id}),
        (10, "incident.status", {"status": "investigating"}),
        (15, "incident.reassess", {"impact": "medium", "urgency": "high"}),
        (0, "incident.post_update", {"audience": "stakeholders", "update": "Still on it"}),
        (30, "incident.status", {"status": "monitoring"}),
        (60, "incident.resolve", {"summary": "Rolled back the release"})]
    for minutes, verb, data in steps:
        clock.advance(timedelta(minutes=minutes))
        await settled(stack)  # the card in Teams shows the latest version before the next click
        await act(stack, root, verb, **data)
    await settled(stack)
    return root


def _link(cards: list[str]) -> str:
    match = re.search(r'"url": "(https://beacon\.example\.com/reports/INC-1\?[^"]+)"', "\n".join(cards))
    assert match, cards[-1][:500]
    return match.group(1).replace("https://beacon.example.com", "")


async def _submit(stack: Any, root: Any, **extra: Any) -> dict[str, Any]:
    data = {"incidentId": 1, "root_cause": "A bad config push", "lessons": "Canary config changes",
            "impact": "Checkout failed for 40% of users", "action1_title": "Add config canary",
            "action1_owner": Users.BOB.aad_object_id, "action1_due": "2026-01-09", **extra}
    return await stack.invoke_card(card_action_invoke("review.report_submit", data, reply_to_id=root.id,
                                                      service_url=stack.url))


def _pdf_text(pdf: bytes) -> str:
    """The text a reader's PDF viewer finds (poppler's pdftotext): the fonts are embedded subsets,
    so the page streams hold glyph numbers, not letters."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils' pdftotext is not installed")
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode()


async def test_report_is_requested_built_served_and_emailed(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    try:
        root = await _scripted(stack, clock, impact_time="08:40")  # 20 minutes before the declaration
        cards = thread_cards(stack, root.id)
        assert any("post-incident report for INC-1 is ready to write" in c and "Priya Head" in c for c in cards)
        answer = await _submit(stack, root)
        assert "Report complete" in card_text(answer)
        await settled(stack)
        link = _link(thread_cards(stack, root.id))
        status, page = await stack.beacon.get_text(link)
        assert status == 200 and "<img" in page and "data:image/png;base64," in page
        positions = [page.index(f">{title}<") for title in SECTIONS]
        assert positions == sorted(positions)
        assert "2026-01-05 09:00 UTC" in page and "2026-01-05 11:00 UTC" in page  # detected, resolved
        summary = html.unescape(page[page.index(">Executive summary<"):page.index(">Incident overview<")])
        # counted from when the impact started (08:40), which the declarer gave, not the declaration
        assert "From 2026-01-05 08:40 UTC to 2026-01-05 11:00 UTC (2 h 20 min), payments-api was affected" in summary
        assert "Priority declared P1, P2 at the end" in summary and "Root cause: A bad config push." in summary
        assert ("declared after 20 min; acknowledged after 25 min; mitigated after 1 h 20 min; "
                "resolved after 2 h 20 min. Status updates: 1 written, 1 on time.") in summary
        assert "Duration of impact</td><td>2 h 20 min" in page
        # deliveries are one appendix table, alike ones on one row, not rows of the timeline
        timeline = page[page.index(">Response timeline<"):page.index(">Corrective actions<")]
        assert "Thread mention" not in timeline and "not in the roster" not in timeline
        deliveries = page[page.index(">B. Messages and deliveries<"):page.index(">C. Bridge")]
        assert "<td>Incident card refresh</td><td>incident thread</td><td>sent</td><td>7</td>" in deliveries
        assert "failed: Bob Singh is not in the roster" in deliveries and "Error:" not in deliveries
        forms = dict(re.findall(r"<a href='([^']+)'>(PDF|Markdown)</a>", page))
        assert sorted(forms.values()) == ["Markdown", "PDF"]
        assert all(html.unescape(url).startswith("https://beacon.example.com" + link.split("&")[0]) for url in forms)
        assert "P1 → P2" in page and "A bad config push" in page and "Add config canary" in page
        assert "triage</td><td>15 min" in page and "investigating</td><td>45 min" in page
        assert "<td>Email</td><td>desk@example.com</td><td>sent</td>" in page  # deliveries appendix
        # what the reader is told needs no knowledge of Beacon's inner workings: no config fingerprint
        fingerprint = stack.beacon.deps.config.fingerprint()
        assert "Process version" not in page and fingerprint not in page
        status, md = await stack.beacon.get_text(link + "&format=md")
        assert status == 200 and all(f"## {title}" in md for title in SECTIONS)
        assert "[PDF](https://beacon.example.com/reports/INC-1?" in md and "[web page](" in md
        assert "Process version" not in md and fingerprint not in md
        done: list[str] = []

        async def fetch(path: str, name: str) -> tuple[int, bytes]:
            answer = await _get_bytes(stack, path)
            done.append(name)
            return answer

        # the PDF is drawn in a worker thread: the server answers meanwhile
        drawing = asyncio.create_task(fetch(link + "&format=pdf", "pdf"))
        await asyncio.sleep(0.05)
        await fetch("/healthz", "healthz")
        status, pdf = await drawing
        assert done == ["healthz", "pdf"]
        assert status == 200 and pdf.startswith(b"%PDF")
        text = _pdf_text(pdf)
        assert all(title in text for title in SECTIONS) and "page 1 of " in text
        assert "Open as web page" in text and "P1 → P2" in text
        assert "Process version" not in text and fingerprint not in "".join(text.split())
        assert (await stack.beacon.get_text(link.replace("sig=", "sig=00")))[0] == 403
        clock.advance(timedelta(days=31))
        assert (await stack.beacon.get_text(link))[0] == 403  # expired
        mails = [m for m in graph.sent_mail() if "Post-incident report" in m.subject]
        assert {a for m in mails for a in m.to} == {"desk@example.com", "priya@example.com"}
        assert mails[0].text.splitlines()[0].startswith("The post-incident report for INC-1 (")
        assert any(line.startswith("Read the report: http") for line in mails[0].text.splitlines())
        assert "<" not in mails[0].text and "&amp;" not in mails[0].text
        stack.every_card_is_valid()
    finally:
        await _stop(stack, graph)


async def _get_bytes(stack: Any, path: str) -> tuple[int, bytes]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(stack.beacon.url + path) as response:
        return response.status, await response.read()


async def test_review_event_reaches_graph_and_held_review_closes(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    try:
        root = await _scripted(stack, clock)
        await _submit(stack, root)
        answer = await stack.invoke_card(card_action_invoke("review.schedule", {"incidentId": 1},
                                                            reply_to_id=root.id, service_url=stack.url))
        assert "Review scheduled for 2026-01-06 10:00 UTC" in card_text(answer)
        # a second click is refused as Teams' error, which keeps the clicker's card as it was
        again = await stack.invoke_refused(card_action_invoke("review.schedule", {"incidentId": 1},
                                                              reply_to_id=root.id, service_url=stack.url))
        assert again == "the review of INC-1 is already scheduled"
        await settled(stack)
        [event] = graph.events.values()
        invited = {a["emailAddress"]["address"] for a in event["attendees"]}
        assert invited == {"alice@example.com", "bob@example.com", "priya@example.com"}
        assert "/reports/INC-1?" in event["body"]["content"]
        assert event["start"]["dateTime"].startswith("2026-01-06T10:00")
        await stack.invoke_card(card_action_invoke("review.held", {"incidentId": 1}, reply_to_id=root.id,
                                                   service_url=stack.url))
        async with stack.beacon.deps.uow() as uow:
            assert (await uow.incidents.get(1)).status.value == "closed"
    finally:
        await _stop(stack, graph)


async def test_a_review_whose_calendar_event_failed_can_be_scheduled_again(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    try:
        root = await _scripted(stack, clock)
        await _submit(stack, root)
        await settled(stack)
        graph.fail_next(1, 403, path_contains="/events", code="ErrorAccessDenied",
                        message="Access is denied. Check credentials and try again.")
        await stack.invoke_card(card_action_invoke("review.schedule", {"incidentId": 1}, reply_to_id=root.id,
                                                   service_url=stack.url))
        await settled(stack)
        assert graph.events == {}
        [failed] = [c for c in thread_cards(stack, root.id) if "review meeting could not be created" in c]
        assert "Access is denied" in failed and "Schedule review" in failed and "not scheduled" in failed
        async with stack.beacon.deps.uow() as uow:
            assert any(e.kind == "review_event_failed" for e in await uow.timeline.of(1))

        answer = await stack.invoke_card(card_action_invoke("review.schedule", {"incidentId": 1},
                                                            reply_to_id=root.id, service_url=stack.url))
        assert "Review scheduled for 2026-01-06 10:00 UTC" in card_text(answer)
        await settled(stack)
        [event] = graph.events.values()
        assert event["start"]["dateTime"].startswith("2026-01-06T10:00")
        stack.every_card_is_valid()
    finally:
        await _stop(stack, graph)


async def test_action_reminders_fire_on_time_and_completion_is_on_the_timeline(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    scheduler = stack.beacon.app[REVIEW_SCHEDULER]
    try:
        root = await _scripted(stack, clock)
        await _submit(stack, root)
        await settled(stack)

        def reminders() -> list[str]:
            return [c for c in thread_cards(stack, root.id) if "follow-up action of INC-1" in c]

        clock.advance(datetime(2026, 1, 9, 8, 0, tzinfo=UTC) - clock.now())  # due Friday 09:00 UTC
        await scheduler.run_once()
        await settled(stack)
        assert reminders() == []
        clock.advance(timedelta(hours=1))
        await scheduler.run_once()
        await settled(stack)
        assert len(reminders()) == 1 and "is due" in reminders()[0]
        clock.advance(timedelta(days=1))
        await scheduler.run_once()
        await settled(stack)
        assert len(reminders()) == 2 and "is overdue" in reminders()[1]
        status, body = await stack.beacon.get_text("/metrics")
        assert "beacon_actions_overdue 1.0" in body
        await stack.send(channel_message("actions", service_url=stack.url))
        listing = await stack.teams.wait_for(
            lambda r: next((m for m in r.posted() if m.cards and "Open follow-up actions" in card_text(m.cards[0])),
                           None))
        assert "Add config canary" in card_text(listing.cards[0])
        done = await stack.invoke_card(card_action_invoke("review.action_complete", {"actionId": 1},
                                                          reply_to_id=root.id, service_url=stack.url))
        assert "No open follow-up actions" in card_text(done)
        async with stack.beacon.deps.uow() as uow:
            assert any(e.kind == "action_completed" for e in await uow.timeline.of(1))
        stack.every_card_is_valid()
    finally:
        await _stop(stack, graph)


async def test_a_drill_sends_nothing_external_and_ends_with_a_drill_report(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    try:
        _, root = await declare(stack, "Drill: payments outage", drill="true")
        clock.advance(timedelta(minutes=20))
        await act(stack, root, "incident.resolve", summary="Drill over")
        await settled(stack)
        await stack.beacon.app[REVIEW_SCHEDULER].run_once()
        await settled(stack)
        cards = thread_cards(stack, root.id)
        assert any("Drill report: DRILL INC-1" in c for c in cards)
        assert not any("post-incident report for" in c for c in cards)
        assert graph.sent_mail() == [] and graph.events == {}
        status, body = await stack.beacon.get_text("/metrics")
        assert "beacon_time_to_resolve_seconds{" not in body
    finally:
        await _stop(stack, graph)


async def test_metrics_for_known_incidents(database_url):
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    try:
        await _scripted(stack, clock)  # P1 → P2: acknowledged after 5 min, monitoring at 60, resolved at 120
        status, body = await stack.beacon.get_text("/metrics")
        assert 'beacon_time_to_acknowledge_seconds{priority="P2"} 300.0' in body
        assert 'beacon_time_to_mitigate_seconds{priority="P2"} 3600.0' in body
        assert 'beacon_time_to_resolve_seconds{priority="P2"} 7200.0' in body
        assert 'beacon_incidents_per_week{week="2026-W02"} 1.0' in body
        assert 'beacon_status_updates{punctuality="on_time"} 1.0' in body
        await stack.send(channel_message("metrics", service_url=stack.url))
        card = await stack.teams.wait_for(
            lambda r: next((m for m in r.posted() if m.cards and "Response metrics" in card_text(m.cards[0])), None))
        assert "data:image/png;base64," in card_text(card.cards[0])
        stack.every_card_is_valid()
    finally:
        await _stop(stack, graph)


async def test_the_completed_report_is_noted_on_the_freshdesk_ticket(database_url):
    from services.freshdesk.settings import FreshdeskSettings
    from services.intake.settings import IntakeSettings
    from tests.e2e.helpers import eventually
    from tests.fakes.freshdesk import FakeFreshdesk

    clock = FakeClock(START)
    async with FakeFreshdesk() as fd:
        graph = await FakeGraph().start()
        outside = OutsideSettings(
            graph=GraphSettings(base_url=graph.base_url, access_token="t", organizer_user_id="bridge@example.com",
                                mail_sender="noc@example.com"), sms=SmsSettings(provider=""),
            extra={"intake": IntakeSettings(_env_file=None, FRESHDESK_REQUESTER_EMAIL="noc@example.com"),  # type: ignore[call-arg]
                   "freshdesk": FreshdeskSettings(_env_file=None, FRESHDESK_URL=fd.url,  # type: ignore[call-arg]
                                                  FRESHDESK_API_KEY=fd.api_key)})
        stack = await start_stack(database_url, review_config(), outside=outside, clock=clock,
                                  report_link_secret="s3cret", public_url="https://beacon.example.com")
        try:
            root = await _scripted(stack, clock)
            await _submit(stack, root)
            await settled(stack)
            ticket = fd.tickets[0]["id"]
            await eventually(lambda: any("post-incident report" in n.get("body", "") for n in fd.notes(ticket)),
                             what="report note on the ticket")
            note = next(n for n in fd.notes(ticket) if "post-incident report" in n.get("body", ""))
            assert "A bad config push" in note["body"] and "/reports/INC-1?" in note["body"]
        finally:
            await _stop(stack, graph)


async def test_the_report_owner_completes_the_review_and_beacon_closes_the_incident(database_url):
    """Priya (the product head, owner of the report) is neither commander nor admin: the close that
    follows her click is Beacon's, not hers, so nobody's rights can refuse it."""
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    priya = Person("Priya Head", "29:priya", "aad-priya", "priya@example.com")
    try:
        root = await _scripted(stack, clock)
        data = {"incidentId": 1, "root_cause": "A bad config push", "lessons": "Canary config changes"}
        answer = await stack.invoke_card(card_action_invoke("review.report_submit", data, reply_to_id=root.id,
                                                            service_url=stack.url, from_user=priya))
        assert "Report complete" in card_text(answer)
        await stack.invoke_card(card_action_invoke("review.held", {"incidentId": 1}, reply_to_id=root.id,
                                                   service_url=stack.url, from_user=priya))
        async with stack.beacon.deps.uow() as uow:
            incident = await uow.incidents.get(1)
            timeline = await uow.timeline.of(1)
        assert incident.status.value == "closed"
        assert not [e.summary for e in timeline if e.kind == "refused"]
        closed = [e for e in timeline if e.kind == "closed"]
        assert closed and closed[-1].actor is not None and closed[-1].actor.name == "Beacon"
    finally:
        await _stop(stack, graph)


async def test_a_report_completed_after_the_review_was_held_closes_the_incident_as_beacon(database_url):
    """The other order: Priya marks the review held first (nothing closes: the report is missing),
    then completes the report. The close that follows is Beacon's, recorded as Beacon, never
    refused for her lack of the commander's rights."""
    clock = FakeClock(START)
    stack, graph = await _stack(database_url, clock)
    priya = Person("Priya Head", "29:priya", "aad-priya", "priya@example.com")
    try:
        root = await _scripted(stack, clock)
        await stack.invoke_card(card_action_invoke("review.held", {"incidentId": 1}, reply_to_id=root.id,
                                                   service_url=stack.url, from_user=priya))
        async with stack.beacon.deps.uow() as uow:
            assert (await uow.incidents.get(1)).status.value == "resolved"
        data = {"incidentId": 1, "root_cause": "A bad config push", "lessons": "Canary config changes"}
        answer = await stack.invoke_card(card_action_invoke("review.report_submit", data, reply_to_id=root.id,
                                                            service_url=stack.url, from_user=priya))
        assert "Report complete" in card_text(answer)
        await settled(stack)
        async with stack.beacon.deps.uow() as uow:
            incident = await uow.incidents.get(1)
            timeline = await uow.timeline.of(1)
        assert incident.status.value == "closed"
        assert not [e.summary for e in timeline if e.kind == "refused" or "refused" in e.summary]
        [closed] = [e for e in timeline if e.kind == "closed"]
        assert closed.actor is not None and closed.actor.name == "Beacon" and "Priya" not in closed.summary
        assert "Beacon" in closed.summary, closed.summary
    finally:
        await _stop(stack, graph)

