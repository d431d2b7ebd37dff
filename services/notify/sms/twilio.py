"""SMS through Twilio's Programmable Messaging REST API (2010-04-01), over httpx.

One form-encoded POST per message, no retry loop (the outbox retries). Twilio's Messages API
takes no idempotency key, so a retry after a lost answer can send twice; the outbox keeps those
retries rare and the key still prevents Beacon from queueing the same SMS twice.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from services.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError, classify_status
from services.notify.sms import fit_sms, mask_phone, redact_phones
from services.notify.sms.settings import TWILIO_DEFAULT_BASE_URL, SmsSettings

log = logging.getLogger("beacon.sms")

API_VERSION = "2010-04-01"


class TwilioSmsSender:
    """The SmsSender port on Twilio. Close with `aclose()`."""

    provider = "twilio"

    def __init__(self, settings: SmsSettings) -> None:
        sid = settings.twilio_account_sid
        self._account_path = f"/{API_VERSION}/Accounts/{sid}"
        self._sender = settings.sender
        self._service_sid = settings.twilio_messaging_service_sid
        self._timeout = settings.timeout_seconds
        self._http = httpx.AsyncClient(
            base_url=settings.twilio_base_url or TWILIO_DEFAULT_BASE_URL,
            auth=httpx.BasicAuth(sid, settings.twilio_auth_token.get_secret_value()),
            headers={"Accept": "application/json", "User-Agent": "Beacon"},
            timeout=settings.timeout_seconds,
        )

    async def send_sms(self, to: str, text: str, *, idempotency_key: str) -> str:
        form = {"To": to, "Body": fit_sms(text)}
        # A Messaging Service picks the sender from its pool (and handles opt-outs), so it wins.
        if self._service_sid:
            form["MessagingServiceSid"] = self._service_sid
        else:
            form["From"] = self._sender
        who = mask_phone(to)
        data = await self._call(f"send the SMS to {who}", "POST", f"{self._account_path}/Messages.json",
                                data=form)
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid:
            raise PermanentDeliveryError(f"Twilio accepted the SMS to {who} but its answer has no sid")
        log.info("SMS to %s accepted by Twilio as %s", who, sid)
        return sid

    async def check(self) -> str:
        """Pre-flight for the doctor: reading the account proves the SID and token."""
        data = await self._call("read the account", "GET", f"{self._account_path}.json")
        name = data.get("friendly_name") or "?"
        return f"Twilio account {name!r} ({data.get('status', 'unknown status')}) accepts the credentials."

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, operation: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise TransientDeliveryError(f"Twilio did not answer within {self._timeout:g}s to {operation} "
                                         f"({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise TransientDeliveryError(f"Twilio could not be reached to {operation}: {error!r}") from error
        if not response.is_success:
            raise _delivery_error(operation, response)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise PermanentDeliveryError(f"Twilio's answer to {operation} is not JSON: is TWILIO_BASE_URL right?",
                                         status=response.status_code)
        return data


def _delivery_error(operation: str, response: httpx.Response) -> DeliveryError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = body.get("code")
    message = redact_phones(str(body.get("message") or response.reason_phrase))
    said = f"{status} (Twilio error {code}): {message}" if code else f"{status}: {message}"
    if status in (401, 403):
        return PermanentDeliveryError(f"Twilio refused the credentials trying to {operation}, {said}; check "
                                      "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN", status=status)
    if body.get("more_info"):
        said += f" ({body['more_info']})"
    return classify_status(status, f"Twilio could not {operation}: {said}", response.headers.get("Retry-After"))
