"""Phone calls through Twilio Programmable Voice (REST API 2010-04-01), over httpx.

One form-encoded POST to Calls.json per call, with the TwiML inline, no retry loop (the outbox
retries). Twilio's Calls API takes no idempotency key: `calls_between` lets the caller find a call
an earlier, unanswered request may have created before placing another (services/paging/voice.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from services.delivery import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    classify_status,
    parse_retry_after,
)
from services.notify.sms import mask_phone
from services.notify.twilio_rest import TwilioRest, bad_credentials, error_body
from services.notify.voice.settings import VoiceSettings

log = logging.getLogger("beacon.voice")

# Twilio error codes that name a setting to fix rather than a passing fault (https://www.twilio.com/docs/errors).
HINTS = {
    21210: "VOICE_FROM is not a Twilio number or verified caller id of this account",
    21212: "VOICE_FROM is not a valid phone number",
    21215: "the account's Voice geographic permissions do not allow calling this country",
    21216: "the account may not call this number (blocked or high-risk)",
    21219: "a trial account calls only verified numbers: verify the number or upgrade the account",
    32018: "the call's TwiML is longer than 4,000 characters",
}


class TwilioVoiceCaller:
    """Places paging calls. Close with `aclose()`."""

    provider = "twilio"

    def __init__(self, settings: VoiceSettings) -> None:
        self.account_sid = settings.twilio_account_sid
        self.auth_token = settings.twilio_auth_token.get_secret_value()  # also checks callbacks' signatures
        self.caller_id = settings.caller_id
        self._ring = settings.ring_seconds
        self._rest = TwilioRest(self.account_sid, self.auth_token, settings.twilio_base_url, settings.timeout_seconds,
                                lost=CallOutcomeUnknown, refusal=delivery_error)

    @property
    def request_timeout(self) -> float:
        return self._rest.timeout

    async def place_call(self, to: str, twiml: str, status_callback: str) -> str:
        """The new call's sid. Twilio rings `to` and runs `twiml` when it is answered; it posts the
        call's outcome (completed, busy, no-answer, failed, canceled) to `status_callback`."""
        form = {"To": to, "From": self.caller_id, "Twiml": twiml, "Timeout": str(self._ring),
                "StatusCallback": status_callback, "StatusCallbackMethod": "POST",
                "StatusCallbackEvent": "completed"}
        who = mask_phone(to)
        data = await self._rest.call(f"call {who}", "POST", f"{self._rest.account_path}/Calls.json", data=form)
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid:
            raise PermanentDeliveryError(f"Twilio accepted the call to {who} but its answer has no sid")
        log.info("call to %s accepted by Twilio as %s (%s)", who, sid, data.get("status"))
        return sid

    async def cancel_if_ringing(self, sid: str) -> str:
        """Stop a call that has not been answered yet (Twilio's Status=canceled hangs up only queued
        and ringing calls); an answered one is left to finish. The call's status afterwards."""
        path = f"{self._rest.account_path}/Calls/{sid}.json"
        call = await self._rest.call(f"read call {sid}", "GET", path)
        if call.get("status") not in ("queued", "initiated", "ringing"):
            return str(call.get("status"))
        updated = await self._rest.call(f"cancel call {sid}", "POST", path, data={"Status": "canceled"})
        return str(updated.get("status"))

    async def calls_between(self, to: str, start: datetime, end: datetime) -> list[str]:
        """Sids of calls from Beacon's number to `to` that Twilio created between `start` and `end`."""
        query = {"To": to, "From": self.caller_id, "PageSize": "50"}
        data = await self._rest.call(f"list the calls to {mask_phone(to)}", "GET",
                                     f"{self._rest.account_path}/Calls.json", params=query)
        found = []
        for call in data.get("calls") or []:
            try:
                created = parsedate_to_datetime(str(call.get("date_created")))
            except (TypeError, ValueError):
                continue
            if start <= created <= end:
                found.append(str(call.get("sid")))
        return found

    async def check(self) -> str:
        """Pre-flight for the doctor: the credentials work and the caller id belongs to the account."""
        account = await self._rest.call("read the account", "GET", f"{self._rest.account_path}.json")
        number = {"PhoneNumber": self.caller_id}
        owned = await self._rest.call("look up VOICE_FROM", "GET",
                                      f"{self._rest.account_path}/IncomingPhoneNumbers.json", params=number)
        numbers = owned.get("incoming_phone_numbers") or []
        if numbers and not (numbers[0].get("capabilities") or {}).get("voice", True):
            raise PermanentDeliveryError(f"{self.caller_id} belongs to the account but cannot make calls")
        if not numbers:
            verified = await self._rest.call("look up VOICE_FROM", "GET",
                                             f"{self._rest.account_path}/OutgoingCallerIds.json", params=number)
            if not verified.get("outgoing_caller_ids"):
                raise PermanentDeliveryError(f"{self.caller_id} is neither a number nor a verified caller id of "
                                             f"Twilio account {account.get('friendly_name') or self.account_sid}")
        return (f"Twilio account {account.get('friendly_name') or '?'!r} ({account.get('status', 'unknown status')}) "
                f"accepts the credentials; calls come from {self.caller_id}.")

    async def aclose(self) -> None:
        await self._rest.aclose()


class CallOutcomeUnknown(TransientDeliveryError):
    """No answer from Twilio, or a 5xx: the request may or may not have created a call."""


def delivery_error(operation: str, response: httpx.Response) -> DeliveryError:
    """Twilio's refusal as a permanent (4xx: wrong number, credentials, permissions) or transient
    (429, 5xx) delivery error, with the setting to fix when the code names one."""
    status = response.status_code
    body, said = error_body(response)
    if (credentials := bad_credentials(operation, response, said)) is not None:
        return credentials
    code = body.get("code")
    hint = HINTS.get(code) if isinstance(code, int) else None
    if hint:
        said += f"; {hint}"
    retry_after = response.headers.get("Retry-After")
    if status >= 500:  # a gateway may answer 5xx after Twilio created the call: the outcome is unknown
        return CallOutcomeUnknown(f"Twilio could not {operation}: {said}", retry_after=parse_retry_after(retry_after),
                                  status=status)
    return classify_status(status, f"Twilio could not {operation}: {said}", retry_after)
