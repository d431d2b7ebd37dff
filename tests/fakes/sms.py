"""Fake SMS providers on loopback: Azure Communication Services (`FakeAcsSms`) and Twilio
(`FakeTwilio`). Both speak the documented wire format, check credentials the way the real ones
do (ACS: the HMAC-SHA256 request signature; Twilio: Basic auth) and record what they "sent"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web

from tests.fakes.freshdesk import RECORDED, FakeHttpServer, RecordedRequest, error

TEST_ACS_KEY = base64.b64encode(b"beacon-test-acs-access-key-32byt").decode()
TEST_TWILIO_SID = "AC" + "0123456789abcdef" * 2
TEST_TWILIO_TOKEN = "twilio-test-auth-token"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class SentSms:
    to: str
    sender: str  # the From number, or the Messaging Service SID
    text: str
    message_id: str
    details: dict[str, Any] = field(default_factory=dict)
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))  # when the fake accepted it


# ---------------------------------------------------------------------------------------------
# Azure Communication Services: POST {endpoint}/sms?api-version=2021-03-07

ACS_TRACKING_WINDOW = timedelta(minutes=5)
SIGNED_HEADERS = ["x-ms-date", "host", "x-ms-content-sha256"]
AUTH_HEADER = re.compile(r"HMAC-SHA256 SignedHeaders=(?P<signed>[^&]+)&Signature=(?P<signature>.+)")


class FakeAcsSms(FakeHttpServer):
    """`async with FakeAcsSms() as acs:`; set ACS_SMS_ENDPOINT to `acs.url` and use
    `acs.connection_string`. Requests signed with another key get ACS's 401."""

    def __init__(self, access_key: str = TEST_ACS_KEY) -> None:
        super().__init__()
        self.access_key = access_key
        self.sent: list[SentSms] = []
        self.replays = 0  # repeats ACS answered from its repeatability record, without sending
        self.auth_failures: list[str] = []  # why each rejected signature was wrong
        self._recipient_faults: dict[str, tuple[int, str]] = {}
        self._repeatable: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (first sent, result)

    @property
    def connection_string(self) -> str:
        return f"endpoint=https://beacon-test.communication.azure.com/;accesskey={self.access_key}"

    def fail_recipient(self, number: str, status: int = 400, message: str = "Invalid To phone number format.") -> None:
        """Per-recipient refusal inside a 202 answer, as ACS reports e.g. an unreachable number."""
        self._recipient_faults[number] = (status, message)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/sms", self._send)

    def fault_body(self, status: int) -> Any:
        code = "TooManyRequests" if status == 429 else "ServiceUnavailable" if status >= 500 else "BadRequest"
        return {"error": {"code": code, "message": f"Injected {status}."}}

    def authenticate(self, request: web.Request, recorded: RecordedRequest) -> web.Response | None:
        reason = self.signature_problem(request, recorded)
        if reason is None:
            return None
        self.auth_failures.append(reason)
        return error(401, {"error": {"code": "Denied", "message": "Denied by the resource provider."}})

    def signature_problem(self, request: web.Request, recorded: RecordedRequest) -> str | None:
        """Checks the HMAC the way ACS does; the reason it fails, or None when it is valid."""
        match = AUTH_HEADER.fullmatch(recorded.headers.get("Authorization", ""))
        if not match:
            return "no 'HMAC-SHA256 SignedHeaders=...&Signature=...' Authorization header"
        signed = match["signed"].split(";")
        if signed != SIGNED_HEADERS:
            return f"SignedHeaders is {match['signed']}"
        content_hash = base64.b64encode(hashlib.sha256(recorded.body).digest()).decode()
        if recorded.headers.get("x-ms-content-sha256") != content_hash:
            return "x-ms-content-sha256 is not the hash of the body"
        date = recorded.headers.get("x-ms-date", "")
        try:
            skew = abs(datetime.now(UTC) - parsedate_to_datetime(date))
        except (TypeError, ValueError):
            return f"x-ms-date {date!r} is not an HTTP date"
        if skew > timedelta(minutes=15):
            return "x-ms-date is more than 15 minutes away"
        values = {"x-ms-date": date, "host": request.host, "x-ms-content-sha256": content_hash}
        to_sign = f"{request.method}\n{request.raw_path}\n" + ";".join(values[name] for name in signed)
        digest = hmac.new(base64.b64decode(self.access_key), to_sign.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), match["signature"]):
            return "signature does not match (wrong access key, host or path)"
        return None

    async def _send(self, request: web.Request) -> web.Response:
        body = request[RECORDED].json
        if request.query.get("api-version") is None:
            return error(400, {"error": {"code": "MissingApiVersionParameter",
                                         "message": "The api-version query parameter is required."}})
        if not isinstance(body, dict) or not body.get("from") or not isinstance(body.get("message"), str):
            return error(400, {"error": {"code": "BadRequest", "message": "The from and message fields are required."}})
        recipients = body.get("smsRecipients") or []
        if not 1 <= len(recipients) <= 100:
            return error(400, {"error": {"code": "BadRequest",
                                         "message": "SmsRecipients must contain between 1 and 100 recipients."}})
        return web.json_response({"value": [self._deliver(body, r) for r in recipients]}, status=202)

    def _deliver(self, body: dict[str, Any], recipient: dict[str, Any]) -> dict[str, Any]:
        to = str(recipient.get("to", ""))
        request_id, first_sent = recipient.get("repeatabilityRequestId"), recipient.get("repeatabilityFirstSent")
        if request_id:
            repeat = self._repeatability(to, str(request_id), str(first_sent or ""))
            if repeat is not None:
                return repeat
        result = self._result(body, to, recipient)
        if request_id:
            self._repeatable[str(request_id)] = (str(first_sent), result)
        return result

    def _repeatability(self, to: str, request_id: str, first_sent: str) -> dict[str, Any] | None:
        """ACS's answer from its repeatability record, or None when the request is new."""
        try:
            uuid.UUID(request_id)
            first = parsedate_to_datetime(first_sent)
        except (TypeError, ValueError):
            return _refused(to, 400, "Invalid repeatability headers.")
        if datetime.now(UTC) - first > ACS_TRACKING_WINDOW:
            return _refused(to, 412, "Repeatability-First-Sent is outside the tracking window.")
        known = self._repeatable.get(request_id)
        if known is None:
            return None
        if known[0] != first_sent:
            return _refused(to, 400, "Repeated request does not match the original request.")
        self.replays += 1
        return dict(known[1])

    def _result(self, body: dict[str, Any], to: str, recipient: dict[str, Any]) -> dict[str, Any]:
        if to in self._recipient_faults:
            status, message = self._recipient_faults[to]
            return _refused(to, status, message)
        if not E164.match(to):
            return _refused(to, 400, "Invalid To phone number format.")
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        message_id = f"Outgoing_{stamp}{uuid.uuid4()}_noam"
        self.sent.append(SentSms(to, str(body["from"]), str(body["message"]), message_id, {
            "repeatability_request_id": recipient.get("repeatabilityRequestId"),
            "repeatability_first_sent": recipient.get("repeatabilityFirstSent"),
            "options": body.get("smsSendOptions") or {},
        }))
        return {"to": to, "messageId": message_id, "httpStatusCode": 202, "repeatabilityResult": "accepted",
                "successful": True}


def _refused(to: str, status: int, message: str) -> dict[str, Any]:
    return {"to": to, "httpStatusCode": status, "repeatabilityResult": "rejected", "successful": False,
            "errorMessage": message}


# ---------------------------------------------------------------------------------------------
# Twilio: POST /2010-04-01/Accounts/{AccountSid}/Messages.json (form-encoded)

def _twilio_error(status: int, code: int, message: str) -> web.Response:
    return error(status, {"code": code, "message": message,
                          "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})


class FakeTwilio(FakeHttpServer):
    """`async with FakeTwilio() as tw:`; set TWILIO_BASE_URL to `tw.url`, TWILIO_ACCOUNT_SID and
    TWILIO_AUTH_TOKEN to `tw.account_sid` / `tw.auth_token`."""

    def __init__(self, account_sid: str = TEST_TWILIO_SID, auth_token: str = TEST_TWILIO_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent: list[SentSms] = []
        self._numbers = itertools.count(1)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._send)
        app.router.add_get("/2010-04-01/Accounts/{sid}.json", self._account)

    def fault_body(self, status: int) -> Any:
        code = 20429 if status == 429 else 20500 if status >= 500 else 20001
        return {"code": code, "message": "Too Many Requests" if status == 429 else f"Injected {status}",
                "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}

    def authenticate(self, request: web.Request, recorded: RecordedRequest) -> web.Response | None:
        scheme, _, encoded = recorded.headers.get("Authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            user = password = ""
        path_sid = request.match_info.get("sid")
        if scheme.lower() != "basic" or (user, password) != (self.account_sid, self.auth_token) \
                or path_sid != self.account_sid:
            return _twilio_error(401, 20003, "Authenticate")
        return None

    async def _account(self, request: web.Request) -> web.Response:
        return web.json_response({"sid": self.account_sid, "friendly_name": "Beacon test account",
                                  "status": "active", "type": "Full"})

    async def _send(self, request: web.Request) -> web.Response:
        form: dict[str, str] = request[RECORDED].form or {}
        to, body = form.get("To", ""), form.get("Body", "")
        sender = form.get("MessagingServiceSid") or form.get("From", "")
        if not to:
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return _twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender:
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _twilio_error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return _twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        sid = "SM" + uuid.uuid4().hex
        self.sent.append(SentSms(to, sender, body, sid, {"form": dict(form)}))
        return web.json_response(self._message(sid, form), status=201)

    def _message(self, sid: str, form: dict[str, str]) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=False)
        body = form["Body"]
        single, multi = (160, 153) if body.isascii() else (70, 67)
        segments = 1 if len(body) <= single else math.ceil(len(body) / multi)
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0",
            "num_segments": str(segments), "price": None, "price_unit": "USD", "sid": sid,
            "status": "accepted" if form.get("MessagingServiceSid") else "queued",
            "subresource_uris": {"media": f"{path}/Media.json"}, "to": form["To"], "uri": f"{path}.json",
        }
