"""Paging by phone end to end over HTTP, with PT3S levels: an alert pages the person on call in
Teams and by SMS; nobody acknowledges, so level 2 calls the secondary (a fake Twilio Voice that
answers and presses keys, posting back through a tunnel to Beacon's public address); pressing 1
acknowledges and stops the escalation. Forged callbacks are refused and change nothing; a repeated
callback doubles nothing; a call whose answer was lost is not placed twice."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.config import parse_config
from services.intake.settings import IntakeSettings
from services.notify.sms.settings import SmsSettings
from services.notify.voice.settings import VoiceSettings
from services.paging.escalation import ESCALATION
from tests.e2e.conftest import Stack, start_stack, unconfigured
from tests.e2e.helpers import card_text, eventually, incident_root
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
from tests.e2e.test_paging import kinds, personal_pages, sms_to, snapshot
from tests.fakes.twilio_voice import OWNED_NUMBER, FakeTwilioVoice
from tests.teams_activities import installation_update

PUBLIC = "https://beacon.example"


@pytest.fixture(autouse=True)
def no_outside_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("ALERTS_", "SMS_", "TWILIO_", "ACK_", "VOICE_"))]:
        monkeypatch.delenv(name)


@asynccontextmanager
async def voice_paging(database_url: str, **config: Any) -> AsyncIterator[tuple[Stack, FakeTwilioVoice]]:
    """The paging stack with SMS and calls through one Twilio account (its number +15005550006)."""
    twilio = FakeTwilioVoice()
    await twilio.start()
    account = {"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
               "TWILIO_BASE_URL": twilio.url}
    outside = unconfigured()
    outside.sms = SmsSettings(_env_file=None, SMS_PROVIDER="twilio", SMS_FROM=OWNED_NUMBER, **account)  # type: ignore[call-arg]
    outside.extra["voice"] = VoiceSettings(_env_file=None, VOICE_PROVIDER="twilio", VOICE_FROM=OWNED_NUMBER,  # type: ignore[call-arg]
                                           **account)
    outside.extra["intake"] = IntakeSettings(_env_file=None, ALERTS_WEBHOOK_TOKEN=ALERTS_TOKEN)  # type: ignore[call-arg]
    stack = await start_stack(database_url, parse_config(paging_config(**config)), outside=outside,
                              ack_link_secret="voice-paging-secret", public_url=PUBLIC)
    twilio.tunnel = (PUBLIC, stack.beacon.url)  # Twilio reaches Beacon's public address; it lands here
    for person in (ADA, GRACE):
        stack.teams.add_member(person)
    try:
        await stack.send(installation_update(service_url=stack.url))
        yield stack, twilio
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
        await twilio.stop()


async def graces_call(stack: Stack, twilio: FakeTwilioVoice) -> str:
    await eventually(lambda: twilio.calls_to(GRACE_PHONE), timeout=30, what="the call to Grace")
    return twilio.calls_to(GRACE_PHONE)[0].sid


async def test_level_2_calls_the_secondary_and_pressing_1_acknowledges_and_stops_the_escalation(database_url):
    async with voice_paging(database_url, repeat=1, after="PT3S", last_after="PT60S") as (stack, twilio):
        status, answer = await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        assert status == 200 and answer["alerts"][0]["outcome"] == "declared", answer
        # Level 1: Ada in Teams and by SMS; nobody is called yet (level 1's methods are teams and sms).
        await eventually(lambda: personal_pages(stack, ADA) and sms_to(twilio, ADA_PHONE), what="Ada's pages")
        assert twilio.calls == []

        # Nobody acknowledges: level 2 pages Grace in Teams, by SMS and with a call.
        sid = await graces_call(stack, twilio)
        await eventually(lambda: personal_pages(stack, GRACE) and sms_to(twilio, GRACE_PHONE), what="Grace's pages")
        call = await twilio.answer(sid)
        heard = " ".join(call.spoken)
        assert "You are paged for incident 1, priority P1" in heard and "Service: payments-api." in heard
        assert "Press 1 to acknowledge incident 1." in heard and "drill" not in heard

        # A forged key press (not signed with the account's auth token) is refused and changes nothing.
        before = await snapshot(stack)
        status, body = await twilio.press(sid, "1", auth_token="not-the-auth-token")
        assert status == 403 and "X-Twilio-Signature" in body
        assert await snapshot(stack) == before

        status, body = await twilio.press(sid, "1")
        assert status == 200 and "Acknowledged. incident 1 is yours" in " ".join(call.spoken)
        assert "<Hangup" in body
        root = await incident_root(stack, 1)
        await stack.teams.wait_for(lambda _: "by Grace Hopper (phone call) {{TIME(" in card_text(root.cards[0])
                                   or None, timeout=20)

        # Twilio posts the same key press again: nothing doubles.
        after = await snapshot(stack)
        status, _ = await twilio.repeat_last(sid)
        assert status == 200 and "You acknowledged incident 1. Goodbye." == call.spoken[-1]
        assert await snapshot(stack) == after

        # The call ends; its outcome goes on the timeline once, however often Twilio posts it.
        assert (await twilio.end(sid, "completed", 41))[0] == 204
        assert (await twilio.repeat_last(sid))[0] == 204

        # Escalation stopped: nothing more is armed, so the policy does not start over (repeat=1).
        await stack.beacon.settle()
        async with stack.beacon.deps.uow() as uow:
            assert await uow.timers.get(1, ESCALATION) is None
        timeline = await kinds(stack)
        assert timeline.count("acknowledged") == 1 and "page_unanswered" not in timeline
        assert timeline.count("escalated") == 1 and timeline.count("paged") == 2
        assert len(sms_to(twilio, ADA_PHONE)) == 1 and len(twilio.calls) == 1
        async with stack.beacon.deps.uow() as uow:
            events = await uow.timeline.of(1)
        [ack] = [e for e in events if e.kind == "acknowledged"]
        assert ack.summary == "Grace Hopper acknowledged (phone call)" and ack.after == {
            "via": "voice", "level": 2, "round": 1}
        [outcome] = [e for e in events if e.kind == "page_call"]
        assert outcome.summary == "phone call to Grace Hopper (level 2): answered, 41 s"
        stack.every_card_is_valid()


async def test_no_key_asks_again_then_says_goodbye_and_the_escalation_goes_on(database_url):
    async with voice_paging(database_url, after="PT3S") as (stack, twilio):
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        sid = await graces_call(stack, twilio)
        call = await twilio.answer(sid)
        assert (await twilio.silence(sid))[0] == 200
        assert "Beacon did not hear a key. Press 1 to acknowledge incident 1, or hang up." in call.spoken[-1]
        status, body = await twilio.press(sid, "7")
        assert status == 200 and "Not acknowledged: Beacon keeps paging for incident 1. Goodbye." in call.spoken[-1]
        assert "<Gather" not in body and "<Hangup" in body

        # A forged status callback changes nothing; the real no-answer is recorded once and stops nothing.
        assert (await twilio.end(sid, "no-answer", auth_token="forged"))[0] == 403
        assert "page_call" not in await kinds(stack)
        assert (await twilio.end(sid, "no-answer"))[0] == 204
        root = await incident_root(stack, 1)
        await stack.teams.wait_for(lambda r: next(
            (m for m in r.thread(root.id) if "Nobody acknowledged INC-1" in (m.text or "")), None), timeout=20)
        await stack.beacon.settle()
        timeline = await kinds(stack)
        assert "acknowledged" not in timeline and timeline.count("page_call") == 1
        assert timeline.count("page_unanswered") == 1


async def test_a_call_whose_answer_was_lost_rings_once(database_url):
    async with voice_paging(database_url, after="PT3S") as (stack, twilio):
        # Twilio creates the call but the connection drops before its answer reaches Beacon.
        twilio.reset_next(1, path_contains="/Calls.json", after_handling=True)
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await graces_call(stack, twilio)
        await eventually(lambda: len(twilio.requests_to("/Calls.json", "GET")) >= 1, timeout=15,
                         what="the retry asking Twilio for the call")
        await stack.beacon.settle()
        assert len(twilio.calls_to(GRACE_PHONE)) == 1 and len(twilio.requests_to("/Calls.json", "POST")) == 1
        assert "delivery_failed" not in await kinds(stack)


async def test_a_throttled_call_is_placed_by_the_retry(database_url):
    async with voice_paging(database_url, after="PT3S") as (stack, twilio):
        # Throttled before Twilio did anything: the retry places the call.
        twilio.fail_next(1, 429, retry_after=0, path_contains="/Calls.json")
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await graces_call(stack, twilio)
        await stack.beacon.settle()
        assert len(twilio.calls_to(GRACE_PHONE)) == 1 and len(twilio.requests_to("/Calls.json", "POST")) == 2
        assert twilio.requests_to("/Calls.json", "GET") == []


async def test_an_invalid_number_is_a_permanent_failure_on_the_timeline(database_url):
    async with voice_paging(database_url, after="PT3S") as (stack, twilio):
        twilio.fail_next(1, 400, path_contains="/Calls.json",
                         body={"code": 21211, "message": "Invalid 'To' Phone Number: +447700900002", "status": 400,
                               "more_info": "https://www.twilio.com/docs/errors/21211"})
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await eventually(lambda: twilio.requests_to("/Calls.json", "POST"), timeout=30, what="the call request")
        await stack.beacon.settle()
        async with stack.beacon.deps.uow() as uow:
            events = await uow.timeline.of(1)
        [failed] = [e for e in events if e.kind == "delivery_failed"]
        assert "21211" in failed.summary and "+447700900002" not in failed.summary
        assert len(twilio.requests_to("/Calls.json", "POST")) == 1 and twilio.calls == []


async def test_a_call_still_ringing_stops_when_someone_acknowledges_another_way(database_url):
    async with voice_paging(database_url, after="PT3S", last_after="PT60S") as (stack, twilio):
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        sid = await graces_call(stack, twilio)
        assert twilio.call(sid).status == "queued"  # Grace's phone rings
        token = ack_token(sms_to(twilio, ADA_PHONE)[0])
        status, body = await stack.beacon.post(f"/ack/{token}")  # Ada answers her SMS page meanwhile
        assert status == 200, body
        await eventually(lambda: twilio.call(sid).status == "canceled", timeout=20, what="Grace's call stopped")
        await stack.beacon.settle()
        assert len(twilio.calls) == 1 and "delivery_failed" not in await kinds(stack)
