"""The Twilio Voice adapter against the fake Twilio over real HTTP: the Calls.json form, what the
call says, the X-Twilio-Signature check, failures classified, and the settings' problems."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
import pytest_asyncio

from services.delivery import PermanentDeliveryError, TransientDeliveryError
from services.notify.voice import build_voice_caller
from services.notify.voice.settings import VoiceSettings
from services.notify.voice.twilio import CallOutcomeUnknown, TwilioVoiceCaller
from services.notify.voice.twiml import SpokenPage, page_twiml, twilio_signature, valid_signature
from tests.fakes.twilio_voice import OWNED_NUMBER, FakeTwilioVoice, says, signature, twiml_problem

TO = "+447700900002"
PUBLIC = "https://beacon.example"
ACTION = f"{PUBLIC}/voice/twilio/tok/gather?attempt=1"
STATUS = f"{PUBLIC}/voice/twilio/tok/status"
PAGE = SpokenPage("INC-7", "P1", "Payments API is failing <requests> & timing out", "payments-api")


@pytest.fixture(autouse=True)
def no_voice_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("VOICE_", "SMS_", "TWILIO_"))]:
        monkeypatch.delenv(name)


def voice_settings(tw: FakeTwilioVoice, **changes: object) -> VoiceSettings:
    values = {"VOICE_PROVIDER": "twilio", "VOICE_FROM": OWNED_NUMBER, "TWILIO_ACCOUNT_SID": tw.account_sid,
              "TWILIO_AUTH_TOKEN": tw.auth_token, "TWILIO_BASE_URL": tw.url, "VOICE_TIMEOUT_SECONDS": 2, **changes}
    return VoiceSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest_asyncio.fixture
async def twilio() -> AsyncIterator[FakeTwilioVoice]:
    async with FakeTwilioVoice() as fake:
        yield fake


@pytest_asyncio.fixture
async def caller(twilio: FakeTwilioVoice) -> AsyncIterator[TwilioVoiceCaller]:
    made = TwilioVoiceCaller(voice_settings(twilio))
    yield made
    await made.aclose()


async def test_a_call_posts_the_form_with_basic_auth_inline_twiml_and_returns_the_sid(
        twilio: FakeTwilioVoice, caller: TwilioVoiceCaller) -> None:
    sid = await caller.place_call(TO, page_twiml(PAGE, ACTION), STATUS)

    [call] = twilio.calls
    assert sid == call.sid and sid.startswith("CA") and twilio.warnings == []
    request = twilio.requests_to("/Calls.json", "POST")[0]
    assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Calls.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    form = dict(parse_qsl(request.body.decode()))
    assert {k: form[k] for k in ("To", "From", "StatusCallback", "StatusCallbackEvent", "Timeout")} == {
        "To": TO, "From": OWNED_NUMBER, "StatusCallback": STATUS, "StatusCallbackEvent": "completed", "Timeout": "30"}
    assert "Url" not in form and "ApplicationSid" not in form


def test_the_call_reads_the_incident_and_asks_for_1_with_outside_text_inert() -> None:
    twiml = page_twiml(PAGE, ACTION)
    assert twiml_problem(twiml) is None and len(twiml) <= 4000
    spoken = " ".join(says(twiml))
    assert "incident 7, priority P1: Payments API is failing <requests> & timing out." in spoken
    assert "Service: payments-api." in spoken and "Press 1 to acknowledge incident 7." in spoken
    assert "drill" not in spoken
    drill = " ".join(says(page_twiml(SpokenPage("INC-8", "P2", "Failover", "", drill=True), ACTION)))
    assert "This is a drill" in drill and "Service:" not in drill
    hostile = page_twiml(SpokenPage("INC-9", "P1", "</Say><Hangup/><Say>" + "x" * 5000, "s\x07"), ACTION)
    assert twiml_problem(hostile) is None and len(hostile) <= 4000 and "<Hangup" not in hostile.replace(
        "&lt;Hangup", "")


async def test_twilio_refusals_are_permanent_with_the_fix_and_throttling_is_transient(
        twilio: FakeTwilioVoice, caller: TwilioVoiceCaller) -> None:
    with pytest.raises(PermanentDeliveryError, match=r"400 \(Twilio error 21211\)") as invalid:
        await caller.place_call("+0447700900123", page_twiml(PAGE, ACTION), STATUS)
    assert invalid.value.status == 400 and "0447700900123" not in str(invalid.value)  # personal data: masked

    not_ours = TwilioVoiceCaller(voice_settings(twilio, VOICE_FROM="+15005550001"))
    try:
        with pytest.raises(PermanentDeliveryError, match="21210.*VOICE_FROM is not a Twilio number"):
            await not_ours.place_call(TO, page_twiml(PAGE, ACTION), STATUS)
    finally:
        await not_ours.aclose()

    wrong = TwilioVoiceCaller(voice_settings(twilio, TWILIO_AUTH_TOKEN="wrong"))
    try:
        with pytest.raises(PermanentDeliveryError, match="TWILIO_AUTH_TOKEN") as refused:
            await wrong.place_call(TO, page_twiml(PAGE, ACTION), STATUS)
    finally:
        await wrong.aclose()
    assert refused.value.status == 401

    twilio.fail_next(1, 429, retry_after=7, path_contains="Calls.json")
    with pytest.raises(TransientDeliveryError) as throttled:
        await caller.place_call(TO, page_twiml(PAGE, ACTION), STATUS)
    assert throttled.value.retry_after == 7 and not isinstance(throttled.value, CallOutcomeUnknown)
    assert twilio.calls == []

    # A 5xx or no answer at all: Twilio may have created the call, so the outcome is unknown.
    twilio.fail_next(1, 503, path_contains="Calls.json")
    with pytest.raises(CallOutcomeUnknown):
        await caller.place_call(TO, page_twiml(PAGE, ACTION), STATUS)
    twilio.reset_next(1, path_contains="Calls.json", after_handling=True)
    with pytest.raises(CallOutcomeUnknown):
        await caller.place_call(TO, page_twiml(PAGE, ACTION), STATUS)
    [made] = twilio.calls
    now = datetime.now(UTC)
    assert await caller.calls_between(TO, now - timedelta(seconds=30), now + timedelta(seconds=5)) == [made.sid]
    assert await caller.calls_between(TO, now + timedelta(seconds=5), now + timedelta(seconds=30)) == []


async def test_the_fake_refuses_what_twilio_refuses(twilio: FakeTwilioVoice, caller: TwilioVoiceCaller) -> None:
    for twiml, code in (("<Response><Gather action='/relative'><Say>x</Say></Gather></Response>", "12100"),
                        ("<Response><Shout>x</Shout></Response>", "12100"), ("<Response>", "12100"),
                        ("<Response><Say>" + "x" * 4000 + "</Say></Response>", "32018")):
        with pytest.raises(PermanentDeliveryError, match=code):
            await caller.place_call(TO, twiml, STATUS)
    with pytest.raises(PermanentDeliveryError, match="21205"):
        await caller.place_call(TO, page_twiml(PAGE, ACTION), "beacon.example/status")
    assert twilio.calls == []
    throttled = FakeTwilioVoice(calls_per_window=1, window=60)
    async with throttled:
        quick = TwilioVoiceCaller(voice_settings(throttled))
        try:
            await quick.place_call(TO, page_twiml(PAGE, ACTION), STATUS)
            with pytest.raises(TransientDeliveryError) as second:
                await quick.place_call(TO, page_twiml(PAGE, ACTION), STATUS)
        finally:
            await quick.aclose()
    assert second.value.status == 429 and second.value.retry_after == 60 and len(throttled.calls) == 1


def test_the_signature_is_twilios_hmac_sha1_of_url_and_sorted_fields() -> None:
    fields = [("Digits", "1"), ("CallSid", "CA1"), ("AccountSid", "AC1")]
    expected = signature("token", ACTION, fields)  # the fake's own spelling of the algorithm
    assert twilio_signature("token", ACTION, fields) == expected
    assert valid_signature("token", ACTION, list(reversed(fields)), expected)
    assert not valid_signature("other", ACTION, fields, expected)
    assert not valid_signature("token", ACTION.replace("attempt=1", "attempt=2"), fields, expected)
    assert not valid_signature("token", ACTION, [("Digits", "2"), *fields[1:]], expected)
    assert not valid_signature("token", ACTION, fields, "")


async def test_check_proves_the_credentials_and_that_the_caller_id_is_the_accounts(
        twilio: FakeTwilioVoice, caller: TwilioVoiceCaller) -> None:
    assert "calls come from +15005550006" in await caller.check()
    twilio.verified.add("+15005550001")
    verified = TwilioVoiceCaller(voice_settings(twilio, VOICE_FROM="+15005550001"))
    stranger = TwilioVoiceCaller(voice_settings(twilio, VOICE_FROM="+15005550009"))
    try:
        assert "accepts the credentials" in await verified.check()
        with pytest.raises(PermanentDeliveryError, match="neither a number nor a verified caller id"):
            await stranger.check()
    finally:
        await verified.aclose()
        await stranger.aclose()


async def test_settings_say_what_is_missing_including_a_public_address_for_callbacks(
        twilio: FakeTwilioVoice) -> None:
    assert build_voice_caller(VoiceSettings(_env_file=None), PUBLIC) == (  # type: ignore[call-arg]
        None, "VOICE_PROVIDER is empty (twilio)")
    _, reason = build_voice_caller(voice_settings(twilio), "")
    assert "BEACON_PUBLIC_URL is empty" in reason
    _, reason = build_voice_caller(voice_settings(twilio), "http://localhost:3978")
    assert "Twilio cannot post key presses" in reason
    _, reason = build_voice_caller(voice_settings(twilio, VOICE_FROM="", TWILIO_AUTH_TOKEN=""), PUBLIC)
    assert "TWILIO_AUTH_TOKEN is empty" in reason and "VOICE_FROM" in reason
    sms_number = voice_settings(twilio, VOICE_FROM="", SMS_FROM=OWNED_NUMBER)
    made, reason = build_voice_caller(sms_number, PUBLIC)
    assert reason == "" and made is not None and made.caller_id == OWNED_NUMBER
    await made.aclose()
