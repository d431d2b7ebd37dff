"""Twilio's REST API (2010-04-01) as both Twilio adapters speak it: SMS (Messages) and voice
(Calls). One httpx client with the account's basic auth, one request function that turns every
failure into a delivery error, and one reading of Twilio's error body. No retry loop here: the
outbox retries, by the class of the error.

What differs between the two stays with each adapter: which exception a lost answer is (a lost SMS
answer is an ordinary transient failure; a lost call answer may have rung someone), and which
Twilio error codes name a setting to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from services.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError, classify_status
from services.notify.sms import redact_phones
from services.notify.sms.settings import TWILIO_DEFAULT_BASE_URL

API_VERSION = "2010-04-01"


class TwilioRest:
    """Requests to one Twilio account. Close with `aclose()`."""

    def __init__(self, account_sid: str, auth_token: str, base_url: str, timeout: float, *,
                 lost: type[TransientDeliveryError] = TransientDeliveryError,
                 refusal: Callable[[str, httpx.Response], DeliveryError] | None = None) -> None:
        self.account_path = f"/{API_VERSION}/Accounts/{account_sid}"
        self.timeout = timeout
        self._lost = lost
        self._refusal = refusal or (lambda operation, response: refusal_of(operation, response))
        self._http = httpx.AsyncClient(
            base_url=base_url or TWILIO_DEFAULT_BASE_URL,
            auth=httpx.BasicAuth(account_sid, auth_token),
            headers={"Accept": "application/json", "User-Agent": "Beacon"},
            timeout=timeout,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, operation: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Twilio's JSON answer to `method path`; `operation` says what Beacon was doing, in errors."""
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise self._lost(f"Twilio did not answer within {self.timeout:g}s to {operation} "
                             f"({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise self._lost(f"Twilio could not be reached to {operation}: {error!r}") from error
        if not response.is_success:
            raise self._refusal(operation, response)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise PermanentDeliveryError(f"Twilio's answer to {operation} is not JSON: is TWILIO_BASE_URL right?",
                                         status=response.status_code)
        return data


def error_body(response: httpx.Response) -> tuple[Mapping[str, Any], str]:
    """Twilio's error body and, in words, the status, Twilio's code and its message (phones masked)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = body.get("code")
    message = redact_phones(str(body.get("message") or response.reason_phrase))
    status = response.status_code
    return body, f"{status} (Twilio error {code}): {message}" if code else f"{status}: {message}"


def bad_credentials(operation: str, response: httpx.Response, said: str) -> DeliveryError | None:
    """401 and 403 name the two settings to fix, whatever the operation."""
    if response.status_code not in (401, 403):
        return None
    return PermanentDeliveryError(f"Twilio refused the credentials trying to {operation}, {said}; check "
                                  "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN", status=response.status_code)


def refusal_of(operation: str, response: httpx.Response) -> DeliveryError:
    """A refusal as a permanent (4xx) or transient (429, 5xx) delivery error, with Twilio's
    more_info link for the reader."""
    body, said = error_body(response)
    if (credentials := bad_credentials(operation, response, said)) is not None:
        return credentials
    if body.get("more_info"):
        said += f" ({body['more_info']})"
    return classify_status(response.status_code, f"Twilio could not {operation}: {said}",
                           response.headers.get("Retry-After"))
