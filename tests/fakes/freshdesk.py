"""A fake Freshdesk API v2 on loopback: tickets, notes, the documented errors and rate-limit headers.

`FakeHttpServer` is the small base the provider fakes share (tests/fakes/sms.py too): an aiohttp
server on an ephemeral 127.0.0.1 port that records every request and injects faults: error
statuses with Retry-After, slow answers, answers lost after the request took effect, and
connections reset without an answer (before or after the request took effect).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.fakes._recording import reset_connection

DATA = Path(__file__).resolve().parents[1] / "data" / "freshdesk"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any = None
    form: Mapping[str, str] | None = None
    at: float = field(default_factory=time.monotonic)  # when it arrived


# Typed request storage on aiohttp >= 3.12 (a plain string key on older releases).
RECORDED: Any = web.RequestKey("recorded", RecordedRequest) if hasattr(web, "RequestKey") else "recorded"


@dataclass
class Fault:
    remaining: int
    status: int | None  # None: answer normally, only late
    retry_after: str | None = None
    path_contains: str | None = None
    body: Any = None
    delay: float = 0.0
    after_handling: bool = False  # do the work, then answer with the error (a lost answer)
    reset: bool = False  # drop the connection without an answer instead of answering

    def matches(self, request: web.Request) -> bool:
        return self.remaining > 0 and (self.path_contains is None or self.path_contains in request.path_qs)


class FakeHttpServer:
    """Base for the fakes: start/stop, recording, fault injection. Subclasses add routes."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.resets: list[RecordedRequest] = []  # requests whose connection was dropped unanswered
        self.url = ""
        self._faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeHttpServer:
        app = web.Application(middlewares=[self._middleware])
        self.add_routes(app)
        # A short shutdown timeout: a test that timed out on a slow answer must not wait for it.
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> Any:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- hooks for subclasses --------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def authenticate(self, request: web.Request, recorded: RecordedRequest) -> web.Response | None:
        """An error response when the request's credentials are wrong, else None."""
        return None

    def throttle(self, request: web.Request) -> web.Response | None:
        """The answer to a request over the service's rate limit (counted first, as services count
        every request, valid or not), else None."""
        return None

    def fault_body(self, status: int) -> Any:
        return {"error": f"injected {status}"}

    def decorate(self, response: web.StreamResponse) -> None:
        """Headers every answer carries (e.g. rate-limit counters)."""

    # -- fault injection -------------------------------------------------------------------
    def fail_next(self, count: int = 1, status: int = 503, *, retry_after: float | str | None = None,
                  path_contains: str | None = None, body: Any = None, delay: float = 0.0,
                  after_handling: bool = False) -> None:
        """Answer the next `count` matching requests with `status` (and Retry-After, a body, a delay).
        With after_handling the request takes effect first, as when an answer is lost."""
        self._faults.append(Fault(count, status, None if retry_after is None else str(retry_after),
                                  path_contains, body, delay, after_handling))

    def delay_next(self, count: int, seconds: float, *, path_contains: str | None = None) -> None:
        """Answer the next `count` matching requests normally, but only after `seconds` (the request
        takes effect then, whether or not the client still waits)."""
        self._faults.append(Fault(count, None, path_contains=path_contains, delay=seconds))

    def reset_next(self, count: int = 1, *, path_contains: str | None = None, delay: float = 0.0,
                   after_handling: bool = False) -> None:
        """Drop the connection of the next `count` matching requests (a TCP reset, no HTTP answer),
        after `delay` seconds; they are listed in `resets`. Nothing takes effect unless
        `after_handling`: then the request is carried out first and only the answer is lost."""
        self._faults.append(Fault(count, None, path_contains=path_contains, delay=delay,
                                  after_handling=after_handling, reset=True))

    def requests_to(self, path_contains: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests
                if path_contains in r.path and (method is None or r.method == method.upper())]

    # -- machinery -------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        recorded = await _record(request)
        self.requests.append(recorded)
        request[RECORDED] = recorded
        refused = self.throttle(request)
        if refused is not None:
            return refused
        fault = self._take_fault(request)
        if fault and fault.delay:
            await self._sleep(fault.delay)
        failing = fault is not None and (fault.status is not None or fault.reset)
        if fault and failing and not fault.after_handling:
            response: web.StreamResponse = self._fault_response(fault, request, recorded)
        else:
            response = self.authenticate(request, recorded) or await handler(request)
            if fault and failing:
                response = self._fault_response(fault, request, recorded)
        self.decorate(response)
        return response

    def _take_fault(self, request: web.Request) -> Fault | None:
        for fault in self._faults:
            if fault.matches(request):
                fault.remaining -= 1
                return fault
        return None

    def _fault_response(self, fault: Fault, request: web.Request, recorded: RecordedRequest) -> web.Response:
        if fault.reset:
            self.resets.append(recorded)
            reset_connection(request)
            return web.Response(status=502)  # never written: the connection is gone
        assert fault.status is not None
        body = fault.body if fault.body is not None else self.fault_body(fault.status)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return web.json_response(body, status=fault.status, headers=headers)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass


async def _record(request: web.Request) -> RecordedRequest:
    body = await request.read()
    parsed: Any = None
    form: dict[str, str] | None = None
    if body and request.content_type == "application/json":
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    elif body and request.content_type == "application/x-www-form-urlencoded":
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return RecordedRequest(request.method, request.path, dict(request.query),
                           CIMultiDictProxy(CIMultiDict(request.headers)), body, parsed, form)


def error(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


# ---------------------------------------------------------------------------------------------
# Freshdesk

CREATE_FIELDS = frozenset({
    "name", "requester_id", "email", "facebook_id", "phone", "twitter_id", "unique_external_id",
    "subject", "type", "status", "priority", "description", "responder_id", "attachments", "cc_emails",
    "custom_fields", "due_by", "email_config_id", "fr_due_by", "group_id", "parent_id", "product_id",
    "source", "tags", "company_id", "internal_agent_id", "internal_group_id", "lookup_parameter",
})
REPLY_FIELDS = frozenset({"body", "from_email", "user_id", "cc_emails", "bcc_emails"})
REQUESTER_FIELDS = ("requester_id", "phone", "email", "twitter_id", "facebook_id", "unique_external_id")
CHOICES = {"priority": (1, 2, 3, 4), "status": (2, 3, 4, 5), "source": (1, 2, 3, 5, 6, 7, 9, 10)}
INVALID_CREDENTIALS = {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _field_error(name: str, message: str, code: str) -> dict[str, str]:
    return {"field": name, "message": message, "code": code}


def validation_failed(errors: list[dict[str, str]]) -> web.Response:
    return error(400, {"description": "Validation failed", "errors": errors})


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeFreshdesk(FakeHttpServer):
    """`async with FakeFreshdesk() as fd:`; point FRESHDESK_URL at `fd.url`, FRESHDESK_API_KEY at
    `fd.api_key`. Ticket ids increase from `first_ticket_id`. With `searchable`, the ticket search
    by tag (`GET /api/v2/search/tickets?query="tag:'INC-1'"`) answers too; else it is a 404, as on
    a helpdesk whose plan or key cannot search.

    The rate limit is enforced as Freshdesk documents it: `rate_limit_total` calls per window of
    `rate_limit_window` seconds (a minute) for the whole account, every request counted (invalid
    ones too); each answer says X-Ratelimit-Total, -Remaining and -Used-CurrentRequest, and a
    request over the limit is answered 429 with Retry-After (whole seconds to the window's end)
    and nothing else done. `throttled` lists those requests."""

    def __init__(self, api_key: str = "fd-test-api-key", *, first_ticket_id: int = 1,
                 required_custom_fields: tuple[str, ...] = (),
                 custom_fields: tuple[str, ...] | None = None, rate_limit_total: int = 700,
                 rate_limit_window: float = 60.0, searchable: bool = False) -> None:
        super().__init__()
        self.api_key = api_key
        self.searchable = searchable
        self.required_custom_fields = required_custom_fields
        # None: any custom field is accepted; otherwise only these exist in the helpdesk.
        self.custom_fields = custom_fields
        self.rate_limit_total = rate_limit_total
        self.rate_limit_remaining = rate_limit_total
        self.rate_limit_window = rate_limit_window
        self._window_ends = 0.0
        self.throttled: list[RecordedRequest] = []
        self._tickets: dict[int, dict[str, Any]] = {}
        self._notes: dict[int, list[dict[str, Any]]] = {}
        self._replies: dict[int, list[dict[str, Any]]] = {}
        self._updates: dict[int, list[dict[str, Any]]] = {}
        self._created: list[dict[str, Any]] = []
        self._ticket_ids = itertools.count(first_ticket_id)
        self._note_ids = itertools.count(1)
        self._requesters: dict[str, int] = {}
        self._ticket_template = json.loads((DATA / "create_ticket_response.json").read_text())
        self._note_template = json.loads((DATA / "create_note_response.json").read_text())

    # -- what tests read -------------------------------------------------------------------
    @property
    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket as it is now (after updates), oldest first."""
        return [copy.deepcopy(t) for _, t in sorted(self._tickets.items())]

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        return copy.deepcopy(self._tickets[ticket_id])

    @property
    def created(self) -> list[dict[str, Any]]:
        """The JSON bodies of accepted create requests, in order."""
        return copy.deepcopy(self._created)

    def notes(self, ticket_id: int) -> list[dict[str, Any]]:
        return copy.deepcopy(self._notes.get(ticket_id, []))

    def replies(self, ticket_id: int) -> list[dict[str, Any]]:
        """Public replies on the ticket (emailed to its requester), oldest first."""
        return copy.deepcopy(self._replies.get(ticket_id, []))

    def conversations(self, ticket_id: int) -> list[dict[str, Any]]:
        """Notes and replies, oldest first, as GET /tickets/{id}/conversations lists them."""
        return sorted(self.notes(ticket_id) + self.replies(ticket_id), key=lambda c: c["id"])

    def updates(self, ticket_id: int) -> list[dict[str, Any]]:
        """The JSON bodies of accepted PUTs to this ticket, in order."""
        return copy.deepcopy(self._updates.get(ticket_id, []))

    # -- server ----------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v2/tickets", self._create)
        app.router.add_get("/api/v2/tickets", self._list)
        app.router.add_get(r"/api/v2/tickets/{id:\d+}", self._view)
        app.router.add_put(r"/api/v2/tickets/{id:\d+}", self._update)
        app.router.add_post(r"/api/v2/tickets/{id:\d+}/notes", self._add_note)
        app.router.add_post(r"/api/v2/tickets/{id:\d+}/reply", self._reply)
        app.router.add_get(r"/api/v2/tickets/{id:\d+}/conversations", self._conversations)
        app.router.add_get("/api/v2/ticket_fields", self._ticket_fields)
        if self.searchable:
            app.router.add_get("/api/v2/search/tickets", self._search)

    def authenticate(self, request: web.Request, recorded: RecordedRequest) -> web.Response | None:
        scheme, _, encoded = recorded.headers.get("Authorization", "").partition(" ")
        try:
            user = base64.b64decode(encoded).decode().partition(":")[0]
        except ValueError:
            user = ""
        # Freshdesk ignores the password ("X" by convention); the key is the user name.
        if scheme.lower() != "basic" or user != self.api_key:
            return error(401, INVALID_CREDENTIALS)
        if request.method in ("POST", "PUT") and recorded.headers.get("Content-Type", "").split(";")[0] \
                != "application/json":
            return error(415, {"code": "invalid_content_type",
                               "message": f"Content-Type header is set to {request.content_type}. "
                                          "It should be set to application/json"})
        if request.method in ("POST", "PUT") and not isinstance(recorded.json, dict):
            return validation_failed([_field_error("body", "Request body has invalid json format",
                                                   "invalid_json")])
        return None

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return {"code": "rate_limit_exceeded", "message": "You have exceeded the limit of requests per minute"}
        return {"code": "internal_error", "message": "We're sorry, but something went wrong."}

    def throttle(self, request: web.Request) -> web.Response | None:
        now = time.monotonic()
        if now >= self._window_ends:
            self._window_ends, self.rate_limit_remaining = now + self.rate_limit_window, self.rate_limit_total
        if self.rate_limit_remaining > 0:
            self.rate_limit_remaining -= 1
            return None
        self.throttled.append(request[RECORDED])
        # Freshdesk's documented 429 carries Retry-After only, not the X-Ratelimit-* counters.
        return web.json_response(self.fault_body(429), status=429,
                                 headers={"Retry-After": str(max(1, math.ceil(self._window_ends - now)))})

    def decorate(self, response: web.StreamResponse) -> None:
        response.headers["X-Ratelimit-Total"] = str(self.rate_limit_total)
        response.headers["X-Ratelimit-Remaining"] = str(self.rate_limit_remaining)
        response.headers["X-Ratelimit-Used-CurrentRequest"] = "1"
        response.headers["X-Freshdesk-Api-Version"] = "latest=v2; requested=v2"

    async def _create(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = request[RECORDED].json
        errors = self._validate(body, creating=True)
        if errors:
            return validation_failed(errors)
        ticket_id = next(self._ticket_ids)
        now = datetime.now(UTC)
        ticket = copy.deepcopy(self._ticket_template)
        ticket.update({
            "id": ticket_id, "subject": body["subject"], "description": body["description"],
            "description_text": re.sub(r"<[^>]+>", "", body["description"]).strip(),
            "priority": body.get("priority", 1), "status": body.get("status", 2), "source": body.get("source", 2),
            "tags": list(body.get("tags", [])), "custom_fields": dict(body.get("custom_fields", {})),
            "cc_emails": list(body.get("cc_emails", [])), "reply_cc_emails": list(body.get("cc_emails", [])),
            "requester_id": self._requester_id(body), "type": body.get("type"), "company_id": None,
            "created_at": _iso(now), "updated_at": _iso(now),
            "due_by": _iso(now + timedelta(days=3)), "fr_due_by": _iso(now + timedelta(days=1)),
        })
        self._tickets[ticket_id] = ticket
        self._created.append(copy.deepcopy(body))
        return web.json_response(ticket, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        per_page = int(request.query.get("per_page", "30"))
        newest = sorted(self._tickets.values(), key=lambda t: t["id"], reverse=True)[:per_page]
        return web.json_response(newest)

    async def _view(self, request: web.Request) -> web.Response:
        ticket = self._tickets.get(int(request.match_info["id"]))
        return web.json_response(ticket) if ticket else web.Response(status=404)

    async def _update(self, request: web.Request) -> web.Response:
        ticket_id = int(request.match_info["id"])
        if ticket_id not in self._tickets:
            return web.Response(status=404)
        body: dict[str, Any] = request[RECORDED].json
        errors = self._validate(body, creating=False)
        if errors:
            return validation_failed(errors)
        ticket = self._tickets[ticket_id]
        ticket.update({k: v for k, v in body.items() if k != "custom_fields"})
        ticket["custom_fields"].update(body.get("custom_fields", {}))
        ticket["updated_at"] = _iso(datetime.now(UTC))
        self._updates.setdefault(ticket_id, []).append(copy.deepcopy(body))
        return web.json_response(ticket)

    async def _add_note(self, request: web.Request) -> web.Response:
        ticket_id = int(request.match_info["id"])
        if ticket_id not in self._tickets:
            return web.Response(status=404)
        body: dict[str, Any] = request[RECORDED].json
        if not isinstance(body.get("body"), str) or not body["body"]:
            return validation_failed([_field_error("body", "It should be a/an String", "missing_field")])
        now = _iso(datetime.now(UTC))
        note = copy.deepcopy(self._note_template)
        text = re.sub(r"<[^>]+>", "", body["body"]).strip()
        note.update({
            "id": next(self._note_ids), "ticket_id": ticket_id, "body": body["body"], "body_text": text,
            "structured_body": {"body_contents": [{"type": "text", "data": {"content": text}}]},
            "private": body.get("private", True), "incoming": body.get("incoming", False),
            "notified_to": list(body.get("notify_emails", [])), "created_at": now, "updated_at": now,
        })
        self._notes.setdefault(ticket_id, []).append(note)
        return web.json_response(note, status=201)

    async def _reply(self, request: web.Request) -> web.Response:
        """A public reply: emailed to the requester (and cc), so not private and not incoming."""
        ticket_id = int(request.match_info["id"])
        if ticket_id not in self._tickets:
            return web.Response(status=404)
        body: dict[str, Any] = request[RECORDED].json
        errors = [_field_error(name, "Unexpected/invalid field in request", "invalid_field")
                  for name in body if name not in REPLY_FIELDS]
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            errors.append(_field_error("body", "It should be a/an String", "missing_field"))
        for name in ("cc_emails", "bcc_emails"):
            if name in body and not (isinstance(body[name], list) and all(EMAIL.match(str(e)) for e in body[name])):
                errors.append(_field_error(name, "It should contain elements that are in the 'valid email address' "
                                                 "format", "invalid_value"))
        if errors:
            return validation_failed(errors)
        now = _iso(datetime.now(UTC))
        text = re.sub(r"<[^>]+>", "", body["body"]).strip()
        requester = self._tickets[ticket_id]["requester_id"]
        reply = {
            "id": next(self._note_ids), "ticket_id": ticket_id, "body": body["body"], "body_text": text,
            "incoming": False, "private": False, "source": 0, "user_id": body.get("user_id", 1),
            "support_email": "support@example.freshdesk.com", "from_email": body.get("from_email"),
            "to_emails": [e for e, i in self._requesters.items() if i == requester],
            "cc_emails": list(body.get("cc_emails", [])), "bcc_emails": list(body.get("bcc_emails", [])),
            "attachments": [], "created_at": now, "updated_at": now,
        }
        self._replies.setdefault(ticket_id, []).append(reply)
        return web.json_response(reply, status=201)

    async def _conversations(self, request: web.Request) -> web.Response:
        ticket_id = int(request.match_info["id"])
        if ticket_id not in self._tickets:
            return web.Response(status=404)
        try:
            page, per_page = int(request.query.get("page", "1")), int(request.query.get("per_page", "30"))
        except ValueError:
            return validation_failed([_field_error("page", "It should be a/an Positive Integer", "invalid_value")])
        if not (page >= 1 and 1 <= per_page <= 100):
            return validation_failed([_field_error("per_page", "It should be a Positive Integer less than or equal "
                                                               "to 100", "invalid_value")])
        found = self.conversations(ticket_id)[(page - 1) * per_page: page * per_page]
        return web.json_response(found)

    async def _search(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"\"tag:'([^']+)'\"", request.query.get("query", ""))
        if match is None:
            return validation_failed([_field_error("query", "the fake searches by one tag only", "invalid_value")])
        found = [t for t in self.tickets if match.group(1) in t["tags"]]
        return web.json_response({"results": found, "total": len(found)})

    async def _ticket_fields(self, request: web.Request) -> web.Response:
        names = ["requester", "subject", "ticket_type", "source", "status", "priority", "description"]
        names += list(self.custom_fields or self.required_custom_fields)
        return web.json_response([{"id": i, "name": n, "label": n.replace("_", " ").title(), "default": i < 7}
                                  for i, n in enumerate(names)])

    def _requester_id(self, body: dict[str, Any]) -> int:
        email = str(body.get("email") or body.get("requester_id"))
        return self._requesters.setdefault(email, 1000 + len(self._requesters))

    def _validate(self, body: dict[str, Any], *, creating: bool) -> list[dict[str, str]]:
        errors = [_field_error(name, "Unexpected/invalid field in request", "invalid_field")
                  for name in body if name not in CREATE_FIELDS]
        if creating and not any(body.get(name) for name in REQUESTER_FIELDS):
            errors.append(_field_error("requester_id", "Please fill at least 1 of requester_id, phone, email, "
                                       "twitter_id, facebook_id, unique_external_id fields", "missing_field"))
        if "email" in body and not EMAIL.match(str(body["email"])):
            errors.append(_field_error("email", "It should be in the 'valid email address' format",
                                       "invalid_value"))
        for name in ("subject", "description"):
            if creating and not isinstance(body.get(name), str):
                errors.append(_field_error(name, "It should be a/an String", "missing_field"))
        for name, allowed in CHOICES.items():
            if name in body and body[name] not in allowed:
                errors.append(_field_error(name, f"It should be one of these values: "
                                                 f"'{','.join(map(str, allowed))}'", "invalid_value"))
        if "tags" in body and not (isinstance(body["tags"], list) and all(isinstance(t, str) for t in body["tags"])):
            errors.append(_field_error("tags", "It should be a/an Array", "datatype_mismatch"))
        errors += self._custom_field_errors(body.get("custom_fields", {}), creating=creating)
        return errors

    def _custom_field_errors(self, given: Any, *, creating: bool) -> list[dict[str, str]]:
        if not isinstance(given, dict):
            return [_field_error("custom_fields", "It should be a/an key/value pair", "datatype_mismatch")]
        errors = []
        if self.custom_fields is not None:
            errors += [_field_error(name, "Unexpected/invalid field in request", "invalid_field")
                       for name in given if name not in self.custom_fields]
        if creating:
            errors += [_field_error(name, "It should be a/an String", "missing_field")
                       for name in self.required_custom_fields if not given.get(name)]
        return errors
