"""SMS through Azure Communication Services, with azure-communication-sms's async SmsClient.

Retries: the SDK's own retry policy is off (retry_total=0); the outbox worker retries, with
backoff, so one delivery never holds the worker for the SDK's minutes of retries.

Idempotency: the SDK gives every send a random `repeatabilityRequestId` and a fresh
`repeatabilityFirstSent` (per recipient, in the JSON body of API 2021-03-07), so a retry after a
lost answer would send the SMS twice. `_RepeatabilityPolicy`, a per-call pipeline policy (those
run before the HMAC signature is computed), replaces them with an id derived from the outbox
idempotency key and the time of the first attempt. ACS then answers a repeat with the original
result instead of sending again. ACS tracks ids for 5 minutes and rejects a first-sent older than
that (412), so after 4 minutes a retry starts a new repeatability pair; the first attempt's time is
remembered in this process only, so a restart does the same (at worst one duplicate, as before).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

from azure.communication.sms import SmsSendResult
from azure.communication.sms.aio import SmsClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from services.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError, classify_status
from services.notify.sms import fit_sms, mask_phone, redact_phones
from services.notify.sms.settings import SmsSettings

log = logging.getLogger("beacon.sms")

REPEATABILITY_WINDOW = timedelta(minutes=4)  # ACS tracks 5; the margin covers clock skew
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:beacon:sms:acs")
KEY_HINT = "check ACS_CONNECTION_STRING (and that ACS_SMS_ENDPOINT, if set, is the same resource)"


@dataclass(frozen=True)
class Repeatability:
    request_id: str
    first_sent: str  # IMF-fixdate, as ACS expects


# Per-task, so concurrent sends through one client each carry their own pair to the policy.
_current: ContextVar[Repeatability | None] = ContextVar("beacon_acs_repeatability", default=None)


class _RepeatabilityPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        wanted = _current.get()
        http = request.http_request
        if wanted is None or not isinstance(http.body, str) or not http.body:
            return
        body = json.loads(http.body)
        for recipient in body.get("smsRecipients", []):
            recipient["repeatabilityRequestId"] = wanted.request_id
            recipient["repeatabilityFirstSent"] = wanted.first_sent
        http.set_json_body(body)  # type: ignore[attr-defined]


class FirstAttempts:
    """When each idempotency key was first tried (bounded; this process only)."""

    def __init__(self, clock: Callable[[], datetime], size: int = 4096) -> None:
        self._clock = clock
        self._size = size
        self._seen: OrderedDict[str, datetime] = OrderedDict()

    def repeatability(self, key: str) -> Repeatability:
        now = self._clock().astimezone(UTC)
        first = self._seen.get(key)
        if first is None or now - first >= REPEATABILITY_WINDOW:
            first = now.replace(microsecond=0)
        self._seen[key] = first
        self._seen.move_to_end(key)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        stamp = format_datetime(first, usegmt=True)
        return Repeatability(str(uuid.uuid5(_ID_NAMESPACE, f"{key}\n{stamp}")), stamp)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AcsSmsSender:
    """The SmsSender port on ACS. Close with `aclose()`."""

    provider = "acs"

    def __init__(self, settings: SmsSettings, *, clock: Callable[[], datetime] = _utcnow) -> None:
        endpoint, key = settings.acs_credentials()
        self._host = urlsplit(endpoint).netloc
        self._sender = settings.sender
        self._attempts = FirstAttempts(clock)
        self._client = SmsClient(
            endpoint, AzureKeyCredential(key),
            retry_total=0,
            connection_timeout=settings.timeout_seconds,
            read_timeout=settings.timeout_seconds,
            per_call_policies=[_RepeatabilityPolicy()],
        )

    async def send_sms(self, to: str, text: str, *, idempotency_key: str) -> str:
        token = _current.set(self._attempts.repeatability(idempotency_key))
        try:
            results = await self._client.send(from_=self._sender, to=to, message=fit_sms(text))
        except AzureError as error:
            raise _delivery_error(error, f"send the SMS to {mask_phone(to)}") from error
        finally:
            _current.reset(token)
        return _message_id(results, to)

    async def check(self) -> str:
        """Pre-flight for the doctor: a send with no recipients proves the key without sending
        anything (ACS authenticates first, then refuses the empty list with 400)."""
        try:
            await self._client.send(from_=self._sender, to=[], message="Beacon check")
        except AzureError as error:
            if not (isinstance(error, HttpResponseError) and error.status_code == 400):
                raise _delivery_error(error, "check the access key") from error
        return f"ACS SMS at {self._host} accepts the access key; SMS go out from {self._sender}."

    async def aclose(self) -> None:
        await self._client.close()


def _message_id(results: list[SmsSendResult], to: str) -> str:
    who = mask_phone(to)
    if not results:
        raise TransientDeliveryError(f"ACS answered the SMS to {who} without a result")
    result = results[0]
    if result.successful and result.message_id:
        log.info("SMS to %s accepted by ACS as %s", who, result.message_id)
        return str(result.message_id)
    status = int(result.http_status_code or 0)
    reason = redact_phones(result.error_message or "no reason given")
    raise classify_status(status, f"ACS refused the SMS to {who}: {status} {reason}")


def _delivery_error(error: AzureError, operation: str) -> DeliveryError:
    if isinstance(error, ClientAuthenticationError) or (
            isinstance(error, HttpResponseError) and error.status_code == 401):
        return PermanentDeliveryError(f"ACS rejected the access key (401) trying to {operation}: {KEY_HINT}",
                                      status=401)
    if isinstance(error, HttpResponseError) and error.status_code == 403:
        return PermanentDeliveryError(f"ACS refused to {operation} (403 {_detail(error)}): check that SMS_FROM "
                                      f"belongs to this resource and may send there; {KEY_HINT}", status=403)
    if isinstance(error, HttpResponseError) and error.status_code:
        retry_after = getattr(error.response, "headers", {}).get("Retry-After")
        return classify_status(error.status_code, f"ACS could not {operation}: {error.status_code} "
                                                  f"{_detail(error)}", retry_after)
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return TransientDeliveryError(f"ACS could not be reached to {operation}: {type(error).__name__}: "
                                      f"{redact_phones(str(error.message))}")
    return TransientDeliveryError(f"ACS failed to {operation}: {type(error).__name__}")


def _detail(error: HttpResponseError) -> str:
    odata = getattr(error, "error", None)
    if odata is not None and getattr(odata, "code", None):
        return redact_phones(f"{odata.code}: {odata.message}")
    return redact_phones(str(error.reason or ""))
