"""A fake Twilio Programmable Voice on loopback: `FakeTwilioVoice` is FakeTwilio (SMS, Basic auth)
plus the Calls resource, the account's numbers, and a callee who answers and presses keys.

What it refuses, as Twilio documents (https://www.twilio.com/docs/voice/api/call-resource and
/docs/errors): no To (21201) or a To that is not E.164 (21211); no From (21213) or a From that is
neither a number nor a verified caller id of the account (21210); no Url, Twiml or ApplicationSid
(21205); TwiML over 4,000 characters (32018), not well-formed, not a <Response>, with an unknown
verb or a <Gather> whose action is not an absolute URL (inline TwiML has no document URL to resolve
a relative one against; 12100); a StatusCallback or Url that is not an absolute http(s) URL with a
valid host name (21205; Twilio accepts http as well as https, and the tests' tunnel address is
https); a Timeout outside 1..600, a StatusCallbackEvent other than initiated, ringing, answered
and completed, a method other than GET or POST (21200). Url together with Twiml is what Twilio
only warns about (32019, Url wins): it is recorded in `warnings`. With `calls_per_window` set, a
create beyond it within `window` seconds gets 429 (20429) with Retry-After.

The callee: `await fake.answer(sid)` starts the call's TwiML; `press(digit)` and `silence()` post
the <Gather>'s action as Twilio does, signed with X-Twilio-Signature (HMAC-SHA1 under the auth
token of the public URL and the sorted fields), through `tunnel` (public base URL → Beacon's
local address, as a reverse proxy or tunnel would); `end(status)` posts the status callback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web

from tests.fakes.freshdesk import RECORDED
from tests.fakes.sms import E164, TEST_TWILIO_SID, TEST_TWILIO_TOKEN, FakeTwilio, _twilio_error

OWNED_NUMBER = "+15005550006"
VERBS = {"Say", "Play", "Pause", "Gather", "Hangup", "Redirect", "Reject", "Dial", "Record", "Enqueue", "Leave",
         "Connect", "Start", "Stop", "Refer", "Pay", "Prompt", "Sms", "Message"}
IN_GATHER = {"Say", "Play", "Pause"}
EVENTS = {"initiated", "ringing", "answered", "completed"}


def signature(auth_token: str, url: str, fields: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature, written out here independently of Beacon's code."""
    data = url + "".join(f"{name}{value}" for name, value in sorted(fields))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def absolute_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "_" not in (parts.hostname or "")


@dataclass
class PlacedCall:
    sid: str
    to: str
    sender: str
    twiml: str
    status_callback: str
    form: list[tuple[str, str]]
    created: datetime
    spoken: list[str] = field(default_factory=list)  # what the callee heard, in order
    answers: list[tuple[int, str]] = field(default_factory=list)  # Beacon's (status, body) to each callback
    current: str = ""  # the TwiML the call is running now
    status: str = "queued"  # queued (ringing) → in-progress when answered → how it ended
    last: tuple[str, dict[str, str]] = ("", {})  # the latest callback: URL and fields


class FakeTwilioVoice(FakeTwilio):
    def __init__(self, account_sid: str = TEST_TWILIO_SID, auth_token: str = TEST_TWILIO_TOKEN, *,
                 numbers: tuple[str, ...] = (OWNED_NUMBER,), verified: tuple[str, ...] = (),
                 calls_per_window: int = 0, window: float = 1.0) -> None:
        super().__init__(account_sid, auth_token)
        self.numbers, self.verified = set(numbers), set(verified)
        self.calls: list[PlacedCall] = []
        self.warnings: list[int] = []
        self.tunnel: tuple[str, str] = ("", "")  # (public base URL, local base URL)
        self._limit, self._window, self._recent = calls_per_window, window, []  # type: ignore[var-annotated]

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        base = "/2010-04-01/Accounts/{sid}"
        app.router.add_post(f"{base}/Calls.json", self._create)
        app.router.add_get(f"{base}/Calls.json", self._list)
        app.router.add_get(f"{base}/Calls/{{call}}.json", self._fetch)
        app.router.add_post(f"{base}/Calls/{{call}}.json", self._update)
        app.router.add_get(f"{base}/IncomingPhoneNumbers.json", self._incoming)
        app.router.add_get(f"{base}/OutgoingCallerIds.json", self._verified_ids)

    def calls_to(self, number: str) -> list[PlacedCall]:
        return [call for call in self.calls if call.to == number]

    # -- the REST API ----------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        fields = parse_qsl(request[RECORDED].body.decode(), keep_blank_values=True)
        form = dict(fields)
        refused = self._throttled() or self._refusal(form, [v for k, v in fields if k == "StatusCallbackEvent"])
        if refused is not None:
            return refused
        if form.get("Url") and form.get("Twiml"):
            self.warnings.append(32019)
        call = PlacedCall("CA" + uuid.uuid4().hex, form["To"], form["From"], form.get("Twiml", ""),
                          form.get("StatusCallback", ""), fields, datetime.now(UTC))
        call.current = call.twiml
        self.calls.append(call)
        return web.json_response(self._resource(call), status=201)

    def _throttled(self) -> web.Response | None:
        if not self._limit:
            return None
        now = time.monotonic()
        self._recent = [t for t in self._recent if now - t < self._window]
        if len(self._recent) >= self._limit:
            response = _twilio_error(429, 20429, "Too Many Requests")
            response.headers["Retry-After"] = str(max(1, round(self._window)))
            return response
        self._recent.append(now)
        return None

    def _refusal(self, form: dict[str, str], events: list[str]) -> web.Response | None:
        to, sender = form.get("To", ""), form.get("From", "")
        if not to:
            return _twilio_error(400, 21201, "No 'To' number is specified")
        if not E164.match(to):
            return _twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender:
            return _twilio_error(400, 21213, "No 'From' number is specified")
        if sender not in self.numbers | self.verified:
            return _twilio_error(400, 21210, f"The source phone number provided, {sender}, is not yet verified "
                                             "for your account.")
        if not any(form.get(name) for name in ("Url", "Twiml", "ApplicationSid")):
            return _twilio_error(400, 21205, "Url parameter is required.")
        for name in ("Url", "StatusCallback", "FallbackUrl"):
            if form.get(name) and not absolute_url(form[name]):
                return _twilio_error(400, 21205, f"{name} is not a valid URL: {form[name]}")
        for name in ("Method", "StatusCallbackMethod", "FallbackMethod"):
            if form.get(name, "POST").upper() not in ("GET", "POST"):
                return _twilio_error(400, 21200, f"{name} must be GET or POST")
        if not form.get("Timeout", "60").isdigit() or not 1 <= int(form.get("Timeout", "60")) <= 600:
            return _twilio_error(400, 21200, "Timeout must be an integer between 1 and 600")
        if set(events) - EVENTS:
            return _twilio_error(400, 21200, f"StatusCallbackEvent must be among {sorted(EVENTS)}")
        twiml = form.get("Twiml", "")
        if len(twiml) > 4000:
            return _twilio_error(400, 32018, "Twiml size exceeded maximum allowed value of 4000 characters")
        problem = twiml_problem(twiml) if twiml else None
        return _twilio_error(400, 12100, f"Document parse failure: {problem}") if problem else None

    async def _list(self, request: web.Request) -> web.Response:
        query = request.query
        found = [c for c in reversed(self.calls)  # newest first, as Twilio lists them
                 if query.get("To") in (None, c.to) and query.get("From") in (None, c.sender)]
        size = int(query.get("PageSize", "50"))
        return web.json_response({"calls": [self._resource(c) for c in found[:size]], "page": 0,
                                  "page_size": size, "first_page_uri": request.path_qs, "next_page_uri": None,
                                  "previous_page_uri": None, "start": 0, "end": max(0, len(found[:size]) - 1),
                                  "uri": request.path_qs})

    async def _fetch(self, request: web.Request) -> web.Response:
        call = next((c for c in self.calls if c.sid == request.match_info["call"]), None)
        if call is None:
            return _twilio_error(404, 20404, "The requested resource was not found")
        return web.json_response(self._resource(call))

    async def _update(self, request: web.Request) -> web.Response:
        """Status=canceled hangs up a queued or ringing call only; completed hangs up any live call."""
        call = next((c for c in self.calls if c.sid == request.match_info["call"]), None)
        if call is None:
            return _twilio_error(404, 20404, "The requested resource was not found")
        wanted = dict(parse_qsl(request[RECORDED].body.decode())).get("Status", "")
        if wanted not in ("canceled", "completed"):
            return _twilio_error(400, 21218, f"Invalid Status: {wanted}")
        if wanted == "canceled" and call.status in ("queued", "ringing"):
            call.status, call.current = "canceled", ""
        elif wanted == "completed" and call.status in ("queued", "ringing", "in-progress"):
            call.status, call.current = "completed", ""
        return web.json_response(self._resource(call))

    async def _incoming(self, request: web.Request) -> web.Response:
        wanted = request.query.get("PhoneNumber")
        numbers = [{"phone_number": n, "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False}}
                   for n in sorted(self.numbers) if wanted in (None, n)]
        return web.json_response({"incoming_phone_numbers": numbers, "page": 0, "page_size": 50})

    async def _verified_ids(self, request: web.Request) -> web.Response:
        wanted = request.query.get("PhoneNumber")
        return web.json_response({"outgoing_caller_ids": [{"phone_number": n} for n in sorted(self.verified)
                                                          if wanted in (None, n)], "page": 0, "page_size": 50})

    def _resource(self, call: PlacedCall) -> dict[str, Any]:
        stamp = format_datetime(call.created, usegmt=True)
        path = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}"
        return {"sid": call.sid, "account_sid": self.account_sid, "to": call.to, "from": call.sender,
                "status": call.status, "direction": "outbound-api", "date_created": stamp, "date_updated": stamp,
                "start_time": None, "end_time": None, "duration": None, "price": None, "price_unit": "USD",
                "api_version": "2010-04-01", "uri": f"{path}.json"}

    # -- the callee ------------------------------------------------------------------------------
    def call(self, sid: str) -> PlacedCall:
        return next(c for c in self.calls if c.sid == sid)

    async def answer(self, sid: str) -> PlacedCall:
        """The callee picks up: they hear the TwiML up to its <Gather>."""
        call = self.call(sid)
        assert call.status == "queued", f"call {sid} is {call.status}: nobody can answer it"
        call.status = "in-progress"
        call.spoken += says(call.current)
        return call

    async def press(self, sid: str, digits: str, *, auth_token: str | None = None) -> tuple[int, str]:
        """A key press, posted to the running <Gather>'s action (signed with `auth_token`, default the
        account's: pass another to forge)."""
        return await self._gather(self.call(sid), {"Digits": digits, "FinishedOnKey": ""}, auth_token)

    async def silence(self, sid: str) -> tuple[int, str]:
        """No key before the <Gather> times out: with actionOnEmptyResult Twilio posts the action
        without Digits; otherwise it runs the next verb (a <Redirect> is posted; else the call ends)."""
        call = self.call(sid)
        gather = gather_of(call.current)
        if gather is not None and gather.get("actionOnEmptyResult") == "true":
            return await self._gather(call, {}, None)
        redirect = ET.fromstring(call.current).find("Redirect") if call.current else None
        if redirect is None or not redirect.text:
            call.current = ""
            return 200, ""
        return await self._post(call, redirect.text.strip(), {}, None)

    async def end(self, sid: str, status: str = "completed", duration: int = 20, *,
                  auth_token: str | None = None) -> tuple[int, str]:
        """The call is over: Twilio posts its final status to StatusCallback."""
        call = self.call(sid)
        call.status = status
        extra = {"CallDuration": str(duration)} if status == "completed" else {}
        return await self._post(call, call.status_callback, {"CallStatus": status, **extra}, auth_token)

    async def repeat_last(self, sid: str) -> tuple[int, str]:
        """Twilio sends the latest callback again, word for word (a webhook retry)."""
        call = self.call(sid)
        url, form = call.last
        return await self._deliver_callback(call, url, form, None)

    async def _gather(self, call: PlacedCall, fields: dict[str, str], auth_token: str | None) -> tuple[int, str]:
        gather = gather_of(call.current)
        assert gather is not None, f"the call is not waiting for a key: {call.current!r}"
        return await self._post(call, gather.get("action", ""), {"CallStatus": "in-progress", **fields}, auth_token)

    async def _post(self, call: PlacedCall, url: str, fields: dict[str, str],
                    auth_token: str | None) -> tuple[int, str]:
        form = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "CallSid": call.sid,
                "Direction": "outbound-api", "From": call.sender, "To": call.to, "Called": call.to,
                "Caller": call.sender, "CallStatus": "in-progress", **fields}
        call.last = (url, form)
        return await self._deliver_callback(call, url, form, auth_token)

    async def _deliver_callback(self, call: PlacedCall, url: str, form: dict[str, str],
                    auth_token: str | None) -> tuple[int, str]:
        public, local = self.tunnel
        assert public and url.startswith(public), f"{url} is not under the tunnel's public address {public}"
        headers = {"X-Twilio-Signature": signature(auth_token or self.auth_token, url, list(form.items())),
                   "User-Agent": "TwilioProxy/1.1", "Content-Type": "application/x-www-form-urlencoded"}
        async with aiohttp.ClientSession() as session, session.post(local + url[len(public):], data=form,
                                                                    headers=headers) as response:
            body = await response.text()
        call.answers.append((response.status, body))
        if response.status == 200 and response.content_type in ("text/xml", "application/xml") and body:
            problem = twiml_problem(body)
            assert problem is None, f"Beacon answered with bad TwiML ({problem}): {body}"
            call.current = body
            call.spoken += says(body)
        return response.status, body


def gather_of(twiml: str) -> ET.Element | None:
    return ET.fromstring(twiml).find("Gather") if twiml else None


def says(twiml: str) -> list[str]:
    return [say.text or "" for say in ET.fromstring(twiml).iter("Say")]


def twiml_problem(twiml: str) -> str | None:
    """Why Twilio could not run this TwiML, or None."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError as error:
        return f"not well-formed XML ({error})"
    if root.tag != "Response":
        return f"the root is <{root.tag}>, not <Response>"
    for verb in root:
        if verb.tag not in VERBS:
            return f"<{verb.tag}> is not a TwiML verb"
        if verb.tag == "Gather":
            if any(child.tag not in IN_GATHER for child in verb):
                return "<Gather> nests only <Say>, <Play> and <Pause>"
            if not absolute_url(verb.get("action", "")):
                return "<Gather> in inline TwiML needs an absolute action URL"
            if not verb.get("numDigits", "1").isdigit() or int(verb.get("numDigits", "1")) < 1:
                return "numDigits must be a positive integer"
    return None
