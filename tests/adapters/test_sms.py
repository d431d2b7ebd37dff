"""The SMS adapters against fake ACS and Twilio servers over real HTTP, and the shared text rules."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from services.delivery import PermanentDeliveryError, TransientDeliveryError
from services.notify.sms import fit_sms, is_gsm7, mask_phone, redact_phones
from services.notify.sms.acs import AcsSmsSender, FirstAttempts
from services.notify.sms.factory import build_sms_sender
from services.notify.sms.settings import SmsSettings
from services.notify.sms.twilio import TwilioSmsSender
from tests.fakes.sms import FakeAcsSms, FakeTwilio

FROM = "+18335550100"
TO = "+15555550123"
LONG = "INC-42 P1: checkout is down for every customer in EU-West since 09:12; " * 4


@pytest.fixture(autouse=True)
def no_sms_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: not the developer's environment (nor .env, see sms_settings())."""
    for name in [n for n in os.environ if n.startswith(("SMS_", "ACS_", "TWILIO_"))]:
        monkeypatch.delenv(name)


def sms_settings(**values: object) -> SmsSettings:
    return SmsSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def acs_settings(acs: FakeAcsSms, *, connection_string: str | None = None) -> SmsSettings:
    return sms_settings(SMS_PROVIDER="acs", SMS_FROM=FROM, SMS_TIMEOUT_SECONDS=2, ACS_SMS_ENDPOINT=acs.url,
                        ACS_CONNECTION_STRING=connection_string or acs.connection_string)


def twilio_settings(tw: FakeTwilio, **changes: str) -> SmsSettings:
    return sms_settings(**{"SMS_PROVIDER": "twilio", "SMS_FROM": FROM, "TWILIO_ACCOUNT_SID": tw.account_sid,
                           "TWILIO_AUTH_TOKEN": tw.auth_token, "TWILIO_BASE_URL": tw.url, **changes})


@pytest_asyncio.fixture
async def acs() -> AsyncIterator[FakeAcsSms]:
    async with FakeAcsSms() as fake:
        yield fake


@pytest_asyncio.fixture
async def acs_sender(acs: FakeAcsSms) -> AsyncIterator[AcsSmsSender]:
    sender = AcsSmsSender(acs_settings(acs))
    yield sender
    await sender.aclose()


@pytest_asyncio.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@pytest_asyncio.fixture
async def twilio_sender(twilio: FakeTwilio) -> AsyncIterator[TwilioSmsSender]:
    sender = TwilioSmsSender(twilio_settings(twilio))
    yield sender
    await sender.aclose()


# -- Azure Communication Services ----------------------------------------------------------------

async def test_acs_send_is_hmac_signed_and_returns_the_message_id(acs: FakeAcsSms, acs_sender: AcsSmsSender) -> None:
    message_id = await acs_sender.send_sms(TO, "INC-42 P1: checkout down", idempotency_key="inc:42:initial:sms")

    assert acs.auth_failures == []
    [sent] = acs.sent
    assert (sent.to, sent.sender, sent.text, sent.message_id) == (TO, FROM, "INC-42 P1: checkout down", message_id)
    request = acs.requests[0]
    assert (request.method, request.path, request.query["api-version"]) == ("POST", "/sms", "2021-03-07")
    assert request.headers["Authorization"].startswith(
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=")


async def test_acs_retry_after_a_lost_answer_does_not_send_twice(acs: FakeAcsSms, acs_sender: AcsSmsSender) -> None:
    acs.fail_next(1, 503, after_handling=True)  # ACS sent it, the answer never arrived

    with pytest.raises(TransientDeliveryError):
        await acs_sender.send_sms(TO, "INC-42 P1: down", idempotency_key="inc:42:initial:sms")
    message_id = await acs_sender.send_sms(TO, "INC-42 P1: down", idempotency_key="inc:42:initial:sms")
    await acs_sender.send_sms(TO, "INC-42 P1: down", idempotency_key="inc:42:update-1:sms")

    assert [s.message_id for s in acs.sent][0] == message_id
    assert len(acs.sent) == 2 and acs.replays == 1


def test_repeatability_pair_is_stable_within_the_window_and_renewed_after() -> None:
    now = [datetime(2025, 3, 1, 9, 0, 0, 500_000, tzinfo=UTC)]
    attempts = FirstAttempts(lambda: now[0])
    first = attempts.repeatability("k")
    now[0] += timedelta(minutes=3)
    assert attempts.repeatability("k") == first
    assert first.first_sent == "Sat, 01 Mar 2025 09:00:00 GMT"
    assert attempts.repeatability("other") != first
    now[0] += timedelta(minutes=2)  # past 4 minutes: ACS would answer 412 to the old first-sent
    assert attempts.repeatability("k").request_id != first.request_id


async def test_acs_wrong_key_is_permanent(acs: FakeAcsSms) -> None:
    other_key = base64.b64encode(b"another-key-another-key-another!!").decode()
    sender = AcsSmsSender(acs_settings(acs, connection_string=f"endpoint=https://x.communication.azure.com/;"
                                                              f"accesskey={other_key}"))
    try:
        with pytest.raises(PermanentDeliveryError, match="ACS_CONNECTION_STRING") as caught:
            await sender.send_sms(TO, "hello", idempotency_key="k")
    finally:
        await sender.aclose()
    assert caught.value.status == 401
    assert acs.auth_failures == ["signature does not match (wrong access key, host or path)"]


async def test_acs_throttling_is_transient_with_retry_after(acs: FakeAcsSms, acs_sender: AcsSmsSender) -> None:
    acs.fail_next(1, 429, retry_after=7)
    with pytest.raises(TransientDeliveryError) as caught:
        await acs_sender.send_sms(TO, "hello", idempotency_key="k")
    assert (caught.value.status, caught.value.retry_after) == (429, 7)


async def test_acs_refused_recipient_is_permanent_and_masked(acs: FakeAcsSms, acs_sender: AcsSmsSender,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    acs.fail_recipient(TO, 400, f"Invalid To phone number {TO}.")
    with pytest.raises(PermanentDeliveryError) as caught:
        await acs_sender.send_sms(TO, "hello", idempotency_key="k")
    assert "+*******0123" in str(caught.value)
    assert TO not in str(caught.value) and TO not in caplog.text

    acs.fail_recipient(TO, 503, "Service unavailable.")
    with pytest.raises(TransientDeliveryError):
        await acs_sender.send_sms(TO, "hello", idempotency_key="k2")


async def test_acs_unreachable_is_transient(acs: FakeAcsSms) -> None:
    gone = FakeAcsSms()
    await gone.start()
    await gone.stop()  # its port is now closed: the connection is refused
    sender = AcsSmsSender(acs_settings(gone))
    try:
        with pytest.raises(TransientDeliveryError, match="could not be reached"):
            await sender.send_sms(TO, "hello", idempotency_key="k")
    finally:
        await sender.aclose()


async def test_acs_check_proves_the_key_without_sending(acs: FakeAcsSms, acs_sender: AcsSmsSender) -> None:
    assert "accepts the access key" in await acs_sender.check()
    assert acs.sent == []


# -- Twilio --------------------------------------------------------------------------------------

async def test_twilio_posts_the_form_with_basic_auth_and_returns_the_sid(
        twilio: FakeTwilio, twilio_sender: TwilioSmsSender) -> None:
    sid = await twilio_sender.send_sms(TO, "INC-42 P1: checkout down", idempotency_key="k")

    [sent] = twilio.sent
    assert sid == sent.message_id and sid.startswith("SM")
    request = twilio.requests[0]
    assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": TO, "Body": "INC-42 P1: checkout down", "From": FROM}
    expected = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


async def test_twilio_messaging_service_replaces_from(twilio: FakeTwilio) -> None:
    sender = TwilioSmsSender(twilio_settings(twilio, SMS_FROM="", TWILIO_MESSAGING_SERVICE_SID="MG" + "a" * 32))
    try:
        await sender.send_sms(TO, "hi", idempotency_key="k")
    finally:
        await sender.aclose()
    assert twilio.requests[0].form == {"To": TO, "Body": "hi", "MessagingServiceSid": "MG" + "a" * 32}


async def test_twilio_errors_map_to_delivery_errors(twilio: FakeTwilio, twilio_sender: TwilioSmsSender) -> None:
    with pytest.raises(PermanentDeliveryError, match=r"400 \(Twilio error 21211\)") as caught:
        await twilio_sender.send_sms("+1555", "hi", idempotency_key="k")
    assert caught.value.status == 400

    twilio.fail_next(1, 429, retry_after=12)
    with pytest.raises(TransientDeliveryError) as throttled:
        await twilio_sender.send_sms(TO, "hi", idempotency_key="k")
    assert throttled.value.retry_after == 12

    twilio.fail_next(1, 503)
    with pytest.raises(TransientDeliveryError):
        await twilio_sender.send_sms(TO, "hi", idempotency_key="k")
    assert twilio.sent == []


async def test_twilio_wrong_token_is_permanent_and_check_reads_the_account(twilio: FakeTwilio,
                                                                         twilio_sender: TwilioSmsSender) -> None:
    assert "accepts the credentials" in await twilio_sender.check()
    wrong = TwilioSmsSender(twilio_settings(twilio, TWILIO_AUTH_TOKEN="wrong"))
    try:
        with pytest.raises(PermanentDeliveryError, match="TWILIO_AUTH_TOKEN") as caught:
            await wrong.send_sms(TO, "hi", idempotency_key="k")
    finally:
        await wrong.aclose()
    assert caught.value.status == 401


# -- one segment, masked numbers, the factory -------------------------------------------------------

async def test_both_providers_send_one_segment(acs: FakeAcsSms, acs_sender: AcsSmsSender,
                                               twilio: FakeTwilio, twilio_sender: TwilioSmsSender) -> None:
    await acs_sender.send_sms(TO, LONG, idempotency_key="k")
    await twilio_sender.send_sms(TO, "Réseau “down” — 🔥 " + LONG, idempotency_key="k")

    assert acs.sent[0].text == fit_sms(LONG) and 145 < len(acs.sent[0].text) <= 160
    assert twilio.sent[0].text.endswith("…") and len(twilio.sent[0].text.encode("utf-16-le")) <= 140


def test_fit_sms_keeps_one_segment() -> None:
    assert fit_sms("INC-42 P1: down") == "INC-42 P1: down"
    gsm = fit_sms(LONG)
    assert 145 < len(gsm) <= 160 and gsm.endswith("...") and is_gsm7(gsm)
    kept = gsm[:-3]
    assert LONG.startswith(kept) and not LONG[len(kept)].isalnum()  # cut between words, not inside one
    assert len(fit_sms("x" * 200)) == 160  # no boundary near: cut at the limit
    at_word_end = "a" * 150 + " " + "b" * 6
    assert fit_sms(at_word_end + " tail") == at_word_end + "..."  # no complete word is dropped
    # Typographic quotes and dashes are folded into GSM-7 instead of costing 90 characters.
    folded = fit_sms("It’s “down” – again… " * 10)
    assert is_gsm7(folded) and 145 < len(folded) <= 160
    # Extension characters ({ } [ ] € …) take two septets.
    assert fit_sms("{" * 80) == "{" * 80 and fit_sms("{" * 81) == "{" * 78 + "..."
    unicode = fit_sms("Störung 🔥 Ω " + "ž" * 100)
    assert unicode.endswith("…") and len(unicode.encode("utf-16-le")) // 2 <= 70


def test_phone_numbers_are_masked() -> None:
    assert mask_phone("+15555550123") == "+*******0123"
    assert mask_phone("+44 20 7946 0958") == "+** ** **** 0958"
    assert mask_phone("1234") == "1234"
    assert redact_phones("The 'To' number +15005550001 is not valid, code 21211") == \
        "The 'To' number +*******0001 is not valid, code 21211"


def test_factory_builds_the_chosen_provider_or_says_why_not(acs: FakeAcsSms, twilio: FakeTwilio) -> None:
    none, reason = build_sms_sender(sms_settings(SMS_PROVIDER=""))
    assert none is None and reason == "SMS not configured: SMS_PROVIDER is empty (acs or twilio)"
    _, reason = build_sms_sender(sms_settings(SMS_PROVIDER="sinch"))
    assert "'sinch' is not one of acs, twilio" in reason
    _, reason = build_sms_sender(sms_settings(SMS_PROVIDER="acs",
                                              ACS_CONNECTION_STRING="endpoint=https://x/;accesskey=***"))
    assert "not base64" in reason and "SMS_FROM" in reason

    built, reason = build_sms_sender(acs_settings(acs))
    assert isinstance(built, AcsSmsSender) and reason == ""
    built, _ = build_sms_sender(twilio_settings(twilio))
    assert isinstance(built, TwilioSmsSender)
