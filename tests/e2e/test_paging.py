"""Paging end to end over HTTP: an alert pages the person on call in Teams (a personal chat) and by
SMS, nobody acknowledging escalates to level 2, the signed link acknowledges only on POST and
stops the escalation, and forged, expired or reused links change nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.config import parse_config
from services.intake.settings import IntakeSettings
from services.notify.sms.settings import SmsSettings
from services.paging.escalation import ESCALATION
from services.paging.links import AckLinks
from services.store.tables import IncidentRow, TimelineRow
from tests.e2e.conftest import Stack, start_stack, unconfigured
from tests.e2e.helpers import act, card_text, eventually, incident_root
from tests.e2e.paging_helpers import (
    ADA,
    ADA_PHONE,
    ALERTS_TOKEN,
    BEARER,
    GRACE,
    GRACE_PHONE,
    ack_token,
    alert,
    paging_config,
)
from tests.fakes.sms import FakeTwilio
from tests.teams_activities import CHANNEL_ID, TEAM_ID, Person, card_action_invoke, installation_update

CAROL = Person.named("Carol Jones")

SECRET = "paging-ack-link-secret"
HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def no_outside_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("ALERTS_", "SMS_", "TWILIO_", "ACK_"))]:
        monkeypatch.delenv(name)


@asynccontextmanager
async def paging(database_url: str, *, beside: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
                 **config: Any) -> AsyncIterator[tuple[Stack, FakeTwilio]]:
    """Beacon paging through a fake Twilio; `config` tunes the oncall section, `beside` adds other
    top-level sections (roles, …), `settings` Beacon's settings."""
    twilio = FakeTwilio()
    await twilio.start()
    outside = unconfigured()
    outside.sms = SmsSettings(_env_file=None, SMS_PROVIDER="twilio", SMS_FROM="+15005550006",  # type: ignore[call-arg]
                              TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_AUTH_TOKEN=twilio.auth_token,
                              TWILIO_BASE_URL=twilio.url)
    outside.extra["intake"] = IntakeSettings(_env_file=None, ALERTS_WEBHOOK_TOKEN=ALERTS_TOKEN)  # type: ignore[call-arg]
    stack = await start_stack(database_url, parse_config(paging_config(**config) | (beside or {})), outside=outside,
                              ack_link_secret=SECRET, public_url="https://beacon.example", **(settings or {}))
    for person in (ADA, GRACE):  # members of the team Beacon is installed in: Teams lets it chat with them
        stack.teams.add_member(person)
    try:
        await stack.send(installation_update(service_url=stack.url))
        yield stack, twilio
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
        await twilio.stop()


def personal_chat(person: Any) -> str:
    """The id the fake connector gives Beacon's one-to-one chat with `person` (Teams keeps one per user)."""
    return "a:1" + hashlib.sha256(person.id.encode()).hexdigest()[:40]


def personal_pages(stack: Stack, person: Any) -> list[Any]:
    """Page cards Beacon posted in its one-to-one chat with `person`."""
    return [m for m in stack.teams.posted(personal_chat(person)) if any("You are paged" in card_text(c)
                                                                          for c in m.cards)]


def sms_to(twilio: FakeTwilio, number: str) -> list[str]:
    """Pages by SMS (the team's initial notification goes to the same phones, without a link)."""
    return [sent.text for sent in twilio.sent if sent.to == number and "/ack/" in sent.text]


async def kinds(stack: Stack, incident_id: int = 1) -> list[str]:
    async with stack.beacon.deps.uow() as uow:
        return [e.kind for e in await uow.timeline.of(incident_id)]


async def snapshot(stack: Stack) -> tuple[Any, ...]:
    """What a refused link must not change: the incident and its acknowledgements."""
    await stack.beacon.settle()
    async with stack.beacon.deps.uow() as uow:
        row = await uow.session.get(IncidentRow, 1)
        events = await uow.session.scalar(select(func.count()).select_from(TimelineRow).where(
            TimelineRow.kind == "acknowledged"))
        return (row.version, row.acknowledged_at, events) if row else (None, None, events)


async def test_the_phone_rings_while_teams_hangs_on_the_incident_card(database_url):
    """Teams takes 10 s to answer each post, and Beacon delivers one effect at a time
    (OUTBOX_CONCURRENCY=1): the page by SMS still goes out as the alert's incident commits, not
    after the incident's card, which is still on its way to the channel."""
    async with paging(database_url, settings={"outbox_concurrency": 1}) as (stack, twilio):
        await stack.beacon.settle()
        stack.teams.slow_down(10, method="POST")
        status, answer = await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        assert status == 200 and answer["alerts"][0]["outcome"] == "declared", answer
        await eventually(lambda: sms_to(twilio, ADA_PHONE), timeout=5, what="Ada's SMS page")
        assert not [m for m in stack.teams.posted(CHANNEL_ID) if m.cards], "the card was not held up"
        stack.teams.slow_down(0)
        await eventually(lambda: [m for m in stack.teams.posted(CHANNEL_ID) if m.cards], timeout=20,
                         what="the incident's card")
        assert len(sms_to(twilio, ADA_PHONE)) == 1


async def test_an_alert_pages_the_person_on_call_then_escalates_when_nobody_acknowledges(database_url):
    async with paging(database_url, after="PT6S", last_after="PT3S") as (stack, twilio):
        # Before the post: the incident is declared while it is answered, and level 2 is due 6 s
        # after that (pages go out as their transaction commits, so nothing adds to the 6 s).
        started = asyncio.get_running_loop().time()
        status, answer = await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        assert status == 200 and answer["alerts"][0]["outcome"] == "declared", answer
        # Level 1: Ada, on call this week, in a personal chat and by SMS, at once.
        await eventually(lambda: personal_pages(stack, ADA) and sms_to(twilio, ADA_PHONE), timeout=20,
                         what="Ada's Teams and SMS pages")
        [text] = sms_to(twilio, ADA_PHONE)
        assert text.startswith("INC-1 P1: ") and "/ack/" in text and len(text) <= 160
        page = personal_pages(stack, ADA)[0].cards[0]
        assert "Acknowledge" in card_text(page) and "INC-1" in card_text(page)
        assert not personal_pages(stack, GRACE) and not sms_to(twilio, GRACE_PHONE)

        # Nobody acknowledges: after PT6S level 2 pages Grace, by Teams and SMS (voice: not configured).
        await eventually(lambda: personal_pages(stack, GRACE) and sms_to(twilio, GRACE_PHONE), timeout=15,
                         what="Grace's level 2 pages")
        assert asyncio.get_running_loop().time() - started >= 5.5
        # After level 2 goes unanswered too, the thread says so and mentions the team.
        root = await incident_root(stack, 1)
        notice = await stack.teams.wait_for(lambda r: next(
            (m for m in r.thread(root.id) if "Nobody acknowledged INC-1" in (m.text or "")), None), timeout=20)
        mentioned = {e["mentioned"]["id"] for e in notice.activity.get("entities", []) if e.get("type") == "mention"}
        assert mentioned == {ADA.aad_object_id, GRACE.aad_object_id}
        await stack.beacon.settle()
        timeline = await kinds(stack)
        assert timeline.count("paged") == 2 and timeline.count("escalated") == 1
        assert timeline.count("page_unanswered") == 1 and "delivery_skipped" in timeline  # the voice page
        # Each level paged exactly once.
        assert len(sms_to(twilio, ADA_PHONE)) == 1 and len(sms_to(twilio, GRACE_PHONE)) == 1
        assert len(personal_pages(stack, ADA)) == 1 and len(personal_pages(stack, GRACE)) == 1
        stack.every_card_is_valid()


async def escalation_armed(stack: Stack) -> bool:
    """Whether INC-1's next escalation level is still due to page."""
    async with stack.beacon.deps.uow() as uow:
        return await uow.timers.get(1, ESCALATION) is not None


async def test_the_signed_link_acknowledges_only_on_post_and_stops_the_escalation(database_url):
    async with paging(database_url) as (stack, twilio):
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await eventually(lambda: sms_to(twilio, ADA_PHONE), what="Ada's SMS")
        assert await escalation_armed(stack) is True
        token = ack_token(sms_to(twilio, ADA_PHONE)[0])
        before = await snapshot(stack)

        # A link preview or a mail scanner fetches the link: a page, and nothing changes.
        status, page = await get_html(stack, f"/ack/{token}")
        assert status == 200 and "Payments API is failing requests" in page or "PaymentsDown" in page
        assert "<form method='post'" in page and "Acknowledge as Ada Lovelace" in page
        assert await snapshot(stack) == before

        status, done = await post_html(stack, f"/ack/{token}")
        assert status == 200 and "Ada Lovelace acknowledged INC-1" in done
        root = await incident_root(stack, 1)
        await stack.teams.wait_for(lambda _: "by Ada Lovelace (SMS link) {{TIME(" in card_text(root.cards[0])
                                   or None, timeout=20)
        # Escalation stopped: level 2's page is no longer armed, and Grace was never paged.
        await stack.beacon.settle()
        assert await escalation_armed(stack) is False
        assert not sms_to(twilio, GRACE_PHONE) and not personal_pages(stack, GRACE)
        timeline = await kinds(stack)
        assert timeline.count("acknowledged") == 1 and "escalated" not in timeline

        # Used once: the same link again is refused and changes nothing.
        after = await snapshot(stack)
        status, again = await post_html(stack, f"/ack/{token}")
        assert status == 409 and "already used" in again
        assert await snapshot(stack) == after


async def test_forged_expired_and_reused_links_are_refused_and_change_nothing(database_url):
    async with paging(database_url) as (stack, twilio):
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await eventually(lambda: sms_to(twilio, ADA_PHONE), what="Ada's SMS")
        token = ack_token(sms_to(twilio, ADA_PHONE)[0])
        before = await snapshot(stack)
        now = stack.beacon.deps.clock.now()
        forged = AckLinks("not-the-secret", "https://x", timedelta(hours=1)).token(1, ADA.email, "sms_link", now)
        expired = AckLinks(SECRET, "https://x", timedelta(hours=1)).token(1, ADA.email, "sms_link",
                                                                          now - timedelta(hours=2))
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        other_incident = AckLinks(SECRET, "https://x", timedelta(hours=1)).token(99, ADA.email, "sms_link", now)
        for bad, status_wanted, says in ((forged, 403, "not valid"), (tampered, 403, "not valid"),
                                         (expired, 403, "expired"), ("x" * 46, 403, "not valid"),
                                         (other_incident, 409, "does not exist")):
            for method in ("GET", "POST"):
                status, body = await stack.beacon.post(f"/ack/{bad}") if method == "POST" else \
                    await stack.beacon.get(f"/ack/{bad}")
                assert status in (status_wanted, 404), (method, bad, status, body)
                assert "error" in body and (says in body["error"]), body
        assert await snapshot(stack) == before
        status, body = await stack.beacon.post(f"/ack/{token}")
        assert status == 200 and "acknowledged" in body["message"]
        status, body = await stack.beacon.post(f"/ack/{token}")
        assert status == 409 and "already used" in body["error"]


async def get_html(stack: Stack, path: str) -> tuple[int, str]:
    assert stack.beacon._session is not None
    async with stack.beacon._session.get(stack.beacon.url + path, headers=HTML) as response:
        return response.status, await response.text()


async def post_html(stack: Stack, path: str) -> tuple[int, str]:
    assert stack.beacon._session is not None
    async with stack.beacon._session.post(stack.beacon.url + path, headers=HTML) as response:
        return response.status, await response.text()


async def test_an_alert_title_with_a_markdown_link_reaches_a_newly_assigned_responder_as_text(database_url):
    """The personal message that tells someone outside the channel they were assigned quotes the
    incident's title, here an alert's summary: Teams renders Markdown in a message unless it is
    marked plain text, so the summary's link must not become a live one in Carol's chat."""
    phish = "Payments down [sign in here](https://evil.example/login)"
    async with paging(database_url) as (stack, twilio):
        stack.teams.add_member(CAROL, conversation_id=TEAM_ID)
        body = alert()
        body["alerts"][0]["annotations"]["summary"] = phish
        await stack.beacon.post("/api/alerts/alertmanager", body, headers=BEARER)
        root = await incident_root(stack, 1)
        await act(stack, root, "incident.assign", from_user=ADA, responders=CAROL.aad_object_id)
        chat = await stack.teams.wait_for(lambda r: r.posted(personal_chat(CAROL)) or None, timeout=20)
        message = next(m for m in chat if "made you a responder" in (m.text or ""))
        assert phish in message.text  # Carol reads the summary as it came…
        assert message.activity.get("textFormat") == "plain"  # …as text, not as a link


async def test_acknowledge_on_the_personal_page_card_stops_the_escalation(database_url):
    async with paging(database_url) as (stack, twilio):
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await eventually(lambda: personal_pages(stack, ADA), what="Ada's Teams page")
        assert await escalation_armed(stack) is True
        page = personal_pages(stack, ADA)[0]
        [button] = [a for a in page.cards[0]["actions"] if a.get("title") == "Acknowledge"]
        answer = await stack.invoke_card(card_action_invoke(
            button["verb"], button["data"], reply_to_id=page.id, service_url=stack.url, from_user=ADA,
            scope="personal"))
        assert "by Ada Lovelace (Teams page)" in card_text(answer)
        await stack.beacon.settle()
        assert await escalation_armed(stack) is False
        assert not personal_pages(stack, GRACE) and not sms_to(twilio, GRACE_PHONE)
        assert (await kinds(stack)).count("escalated") == 0


async def test_a_newly_assigned_responder_is_mentioned_in_a_new_reply_and_messaged_when_not_in_the_channel(
        database_url):
    async with paging(database_url) as (stack, twilio):
        # Carol is in the team but not in the incidents channel: Teams lets Beacon chat with her.
        stack.teams.add_member(CAROL, conversation_id=TEAM_ID)
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        root = await incident_root(stack, 1)
        await act(stack, root, "incident.assign", from_user=ADA,
                  responders=f"{GRACE.aad_object_id},{CAROL.aad_object_id}")
        reply = await stack.teams.wait_for(lambda r: next(
            (m for m in r.thread(root.id) if "made you a responder" in (m.text or "")), None), timeout=20)
        mentioned = {e["mentioned"]["id"]: e["text"] for e in reply.activity.get("entities", [])
                     if e.get("type") == "mention"}
        assert mentioned == {GRACE.aad_object_id: "<at>Grace Hopper</at>", CAROL.aad_object_id: "<at>Carol Jones</at>"}
        assert reply.text.startswith("<at>Grace Hopper</at> <at>Carol Jones</at> Ada Lovelace made you a responder")
        chat = await stack.teams.wait_for(lambda r: r.posted(personal_chat(CAROL)) or None, timeout=20)
        assert "made you a responder of INC-1" in (chat[0].text or "")
        await stack.beacon.settle()
        assert not [m for m in stack.teams.posted(personal_chat(GRACE)) if "made you" in (m.text or "")]
