"""A local fake Microsoft Graph over real HTTP: the routes Beacon uses, recorded, with faults.

    async with FakeGraph() as graph:
        settings = GraphSettings(GRAPH_BASE_URL=graph.base_url, GRAPH_ACCESS_TOKEN="t", ...)
        ...
        assert graph.sent_mail()[0].to == ["client@example.com"]

Bodies are recorded as sent (`raw_body`) and with every key in lower camel case (`body`), because
msgraph-sdk sends action parameters in PascalCase ("Message", "SaveToSentItems") and Graph itself
matches keys case-insensitively. Path ids are percent-decoded ("/users/noc%40contoso.com/...").

Users: GET /users/{upn or id} answers from a directory where each user's object id is derived from
the address (`object_id`). onlineMeetings routes, like Graph's with application permissions, accept
only that object id: a UPN there is a 404 (graph docs: onlinemeeting-createorget, facts §12.7).

A meeting's join link can come late: `join_link_after_reads = n` creates events and online meetings
without it, and only the n-th re-read (GET of the event, or createOrGet again) carries it.

Calls: Graph may post a call's first notifications to its callbackUri before the answer to the
POST that placed it arrives (facts §12.8). `notify_before_answer(reachable_at)` does exactly that:
it posts establishing and established to the callback's path at `reachable_at` (the callback host
itself is a public address the test cannot serve) and answers only then; the statuses Beacon gave
are in `early_notification_statuses`.

Channels (facts §2): POST /teams/{group id}/channels refuses what Teams refuses: a displayName
over 50 characters, with a reserved character (~ # % & * { } + / \\ : < > ? | ' " ,), with "..",
starting with _ or . or ending with ., a name the team already has (400 NameAlreadyExists), and a
caller without the permission (`channel_roles`: 403, as Graph answers an app without the role).
Archiving a channel of an archived team (`archived_teams`) is refused with the 400 Graph's
channel-archive page shows ("Team has to be active…"). That page names no answer for archiving a
channel that is archived already; the fake refuses it with a 400 too, the stricter reading, so
Beacon must not take a 202 for granted there. `on_archive` hears of each archive (the fake
connector then refuses posts there, as Teams does).

Faults: error answers with Graph's JSON and Retry-After (`fail_next`, `fail_with`, `throttle`…),
slow answers (`slow_next`) and connections reset without an answer (`reset_next`), before the
request takes effect or, with `after_handling`, after it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web

from tests.fakes._recording import reset_connection
from tests.fakes.graph_mail import Refused, SentMail, from_json, from_mime

__all__ = ["FakeGraph", "SentMail", "graph_error"]

DATA = Path(__file__).parent.parent / "data" / "graph"
ONLINE_MEETING_TEMPLATE = DATA / "online_meeting_create_response.json"
TENANT_ID = "72f988bf-0000-0000-0000-2d7cd011db47"
CHANNEL_NAME_MAX = 50
CHANNEL_NAME_FORBIDDEN = re.compile(r"[~#%&*{}+/\\:<>?|'\",\x00-\x1f]")

# Graph's error bodies for the faults tests inject most (facts §1a, §10.21, §10.22).
PRESETS: dict[str, tuple[int, str, str]] = {
    "throttled": (429, "TooManyRequests", "Too many requests. Please retry after the time in Retry-After."),
    "unavailable": (503, "ServiceUnavailable", "The service is temporarily unavailable."),
    "access_policy": (403, "Unauthorized", "App 11111111-2222-3333-4444-555555555555 is not authorized to "
                                            "Create meeting on behalf of user organizer@contoso.com"),
    "tenant_mismatch": (403, "7505", "Request authorization tenant mismatch."),
}


def object_id(user: str) -> str:
    """The fake directory's Entra object id of a user principal name (stable across runs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, user.lower()))


def is_object_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def lower_camel(value: Any) -> Any:
    """Keys with a lower-case first letter, recursively ("@odata.type" stays as it is)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:] if k[:1].isalpha() else k): lower_camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_camel(item) for item in value]
    return value


def ci_get(mapping: dict[str, Any], key: str, default: Any = None) -> Any:
    """A key looked up case-insensitively, as Graph does."""
    for name, value in mapping.items():
        if name.lower() == key.lower():
            return value
    return default


def graph_error(code: str, message: str) -> dict[str, Any]:
    inner = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}
    return {"error": {"code": code, "message": message, "innerError": inner}}


@dataclass
class RecordedRequest:
    method: str
    path: str  # percent-decoded, including the version root: /v1.0/users/noc@contoso.com/sendMail
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    raw_body: Any
    body: Any  # raw_body with lower-camel keys
    at: float  # time.monotonic() when it arrived
    status: int = 0  # stays 0 when the connection was reset instead of answered
    reset: bool = False  # the connection was dropped without an answer

    @property
    def authorization(self) -> str:
        return self.headers.get("authorization", "")


@dataclass
class Fault:
    remaining: int
    status: int
    body: dict[str, Any] | None
    retry_after: str | None = None
    path_contains: str | None = None
    delay: float = 0.0
    serve_normally: bool = False  # a slow answer rather than an error
    reset: bool = False  # drop the connection without an answer
    after_handling: bool = False  # with reset: the request takes effect first, then the answer is lost
    method: str | None = None  # only requests of this method (GET, POST…)


Handler = Callable[..., Awaitable[web.Response]]


class FakeGraph:
    def __init__(self, *, root: str = "/v1.0", token: str | None = None, known_users: set[str] | None = None,
                 dial_in: bool = True) -> None:
        self.root = "/" + root.strip("/")
        self.token = token  # when set, requests need "Authorization: Bearer <token>"
        self.known_users = {u.lower() for u in known_users} if known_users is not None else None
        self.dial_in = dial_in
        self.omit_join_url = False  # events come back without onlineMeeting (unlicensed organizer)
        self.join_link_after_reads = 0  # the link appears only on the n-th re-read (see the docstring)
        self._link_pending: dict[str, int] = {}  # event or meeting id -> re-reads still without a link
        self._notify_at = ""  # see notify_before_answer
        self.early_notification_statuses: list[int] = []
        self.requests: list[RecordedRequest] = []
        self.events: dict[str, dict[str, Any]] = {}
        self.online_meetings: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, list[dict[str, Any]]] = {}
        # The app's channel permissions: Channel.Create.Group (resource-specific consent) or
        # Channel.Create to make channels, ChannelSettings.ReadWrite.All to list and archive them.
        self.channel_roles = {"Channel.Create.Group", "ChannelSettings.ReadWrite.All"}
        self.on_archive: Callable[[str], None] | None = None
        self.archived_teams: set[str] = set()  # group ids of archived teams: their channels stay as they are
        self._sent: list[SentMail] = []
        self._faults: list[Fault] = []
        self._transactions: dict[tuple[str, str], str] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._routes = self._route_table()

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeGraph:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}{self.root}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeGraph:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- fault injection -------------------------------------------------------------------
    def fail_next(self, count: int, status: int, *, retry_after: float | str | None = None,
                  path_contains: str | None = None, body: dict[str, Any] | None = None,
                  delay: float | None = None, code: str | None = None, message: str | None = None) -> None:
        """The next `count` matching requests get `status` with Graph's error JSON."""
        if body is None:
            body = graph_error(code or f"Http{status}", message or f"Injected failure {status}")
        self._faults.append(Fault(count, status, body, None if retry_after is None else str(retry_after),
                                  path_contains, delay or 0.0))

    def fail_with(self, preset: str, count: int = 1, **options: Any) -> None:
        status, code, message = PRESETS[preset]
        self.fail_next(count, status, code=code, message=message, **options)

    def throttle(self, count: int = 1, *, retry_after: float | str = 1,
                 path_contains: str | None = None) -> None:
        self.fail_with("throttled", count, retry_after=retry_after, path_contains=path_contains)

    def unavailable(self, count: int = 1, *, path_contains: str | None = None) -> None:
        self.fail_with("unavailable", count, path_contains=path_contains)

    def deny_meeting_policy(self, count: int = 1, *, path_contains: str | None = None) -> None:
        self.fail_with("access_policy", count, path_contains=path_contains)

    def tenant_mismatch(self, count: int = 1, *, path_contains: str = "/communications/calls") -> None:
        self.fail_with("tenant_mismatch", count, path_contains=path_contains)

    def slow_next(self, count: int, delay: float, *, path_contains: str | None = None) -> None:
        """Answer the next `count` matching requests normally after `delay` seconds; the request
        takes effect then, whether or not the client still waits."""
        self._faults.append(Fault(count, 0, None, None, path_contains, delay, serve_normally=True))

    def reset_next(self, count: int = 1, *, path_contains: str | None = None, delay: float | None = None,
                   after_handling: bool = False, method: str | None = None) -> None:
        """Drop the connection of the next `count` matching requests (a TCP reset, no HTTP answer),
        after `delay` seconds. Nothing takes effect unless `after_handling`: then the request is
        carried out first (a mail is sent) and only the answer is lost."""
        self._faults.append(Fault(count, 0, None, None, path_contains, delay or 0.0, reset=True,
                                  after_handling=after_handling, method=method))

    def notify_before_answer(self, reachable_at: str) -> None:
        self._notify_at = reachable_at.rstrip("/")

    # --- queries ---------------------------------------------------------------------------
    def requests_to(self, fragment: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests
                if fragment in r.path and (method is None or r.method == method.upper())]

    def sent_mail(self) -> list[SentMail]:
        return list(self._sent)

    # --- dispatch --------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        raw_body: Any = raw.decode("utf-8", "replace") if raw.strip() else None  # e.g. sendMail's MIME
        if raw.strip() and request.content_type == "application/json":
            try:
                raw_body = json.loads(raw)
            except ValueError:
                return web.json_response(graph_error("BadRequest", "Unable to read JSON request payload."),
                                         status=400)
        record = RecordedRequest(request.method, unquote(request.raw_path.split("?")[0]), dict(request.query),
                                 {k.lower(): v for k, v in request.headers.items()}, raw_body,
                                 lower_camel(raw_body), time.monotonic())
        self.requests.append(record)
        response = await self._answer(request, record)
        if not record.reset:
            record.status = response.status
        return response

    async def _answer(self, request: web.Request, record: RecordedRequest) -> web.Response:
        if self.token is not None and record.authorization != f"Bearer {self.token}":
            return web.json_response(graph_error("InvalidAuthenticationToken", "Access token is empty or "
                                                 "invalid."), status=401)
        fault = self._take_fault(record.path, record.method)
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.reset and not fault.after_handling:
                return self._reset(request, record)
            if not fault.serve_normally and not fault.reset:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
                return web.json_response(fault.body, status=fault.status, headers=headers)
        raw_path = request.raw_path.split("?")[0]
        if not raw_path.startswith(self.root + "/"):
            return web.json_response(graph_error("BadRequest", f"Invalid version: {raw_path}"), status=400)
        response = await self._route(record, request.method, raw_path[len(self.root):])
        return self._reset(request, record) if fault is not None and fault.reset else response

    @staticmethod
    def _reset(request: web.Request, record: RecordedRequest) -> web.Response:
        record.reset = True
        reset_connection(request)
        return web.Response(status=502)  # never written: the connection is gone

    def _take_fault(self, path: str, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and (fault.path_contains is None or fault.path_contains in path) \
                    and fault.method in (None, method):
                fault.remaining -= 1
                return fault
        return None

    async def _route(self, record: RecordedRequest, method: str, path: str) -> web.Response:
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                params = {name: unquote(value) for name, value in match.groupdict().items()}
                user = params.get("user")
                if user and not self._known(user):
                    return web.json_response(graph_error("ErrorInvalidUser", f"The requested user '{user}' "
                                                         "is invalid."), status=404)
                return await handler(record, **params)
        return web.json_response(graph_error("BadRequest", f"Resource not found for the segment '{path}'."),
                                 status=400)

    def _known(self, user: str) -> bool:
        if self.known_users is None:
            return True
        return user.lower() in self.known_users or user.lower() in {object_id(u) for u in self.known_users}

    def _upn(self, user: str) -> str:
        """The address of a user named by address or by object id."""
        if not is_object_id(user):
            return user
        return next((u for u in (self.known_users or ()) if object_id(u) == user.lower()), f"{user}@contoso.com")

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        table: list[tuple[str, str, Handler]] = [
            ("POST", "/users/{user}/events", self._create_event),
            ("GET", "/users/{user}/events/{event}", self._get_event),
            ("PATCH", "/users/{user}/events/{event}", self._patch_event),
            ("POST", "/users/{user}/onlineMeetings/createOrGet", self._create_or_get),
            ("POST", "/users/{user}/sendMail", self._send_mail),
            ("GET", "/users/{user}", self._get_user),
            ("GET", "/organization", self._organization),
            ("POST", "/communications/calls", self._create_call),
            ("POST", "/communications/calls/{call}/participants/invite", self._invite_participants),
            ("POST", "/teams/{team}/channels", self._create_channel),
            ("GET", "/teams/{team}/channels", self._list_channels),
            ("GET", "/teams/{team}/channels/{channel}", self._get_channel),
            ("POST", "/teams/{team}/channels/{channel}/archive", self._archive_channel),
        ]
        return [(method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), handler)
                for method, template, handler in table]

    # --- calendar events -------------------------------------------------------------------
    def _online_meeting_info(self, event_id: str) -> dict[str, Any]:
        info: dict[str, Any] = {"joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{event_id}"
                                           "%40thread.v2/0"}
        if self.dial_in:
            info.update(conferenceId="123456789", tollNumber="+1 555 0100",
                        tollFreeNumbers=["+1 800 555 0100"])
        return info

    async def _create_event(self, record: RecordedRequest, user: str) -> web.Response:
        body = record.body or {}
        transaction = body.get("transactionId")
        if transaction and (user, transaction) in self._transactions:
            return web.json_response(self.events[self._transactions[user, transaction]], status=201)
        event_id = "AAMk" + uuid.uuid4().hex
        event = {**body, "id": event_id, "organizer": {"emailAddress": {"address": user}},
                 "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}",
                 "attendees": [{**a, "status": {"response": "none"}} for a in body.get("attendees", [])]}
        online = body.get("isOnlineMeeting") and body.get("onlineMeetingProvider") == "teamsForBusiness"
        with_link = online and not self.omit_join_url and not self.join_link_after_reads
        event["onlineMeeting"] = self._online_meeting_info(event_id) if with_link else None
        if online and not self.omit_join_url and self.join_link_after_reads:
            self._link_pending[event_id] = self.join_link_after_reads
        self.events[event_id] = event
        if transaction:
            self._transactions[user, transaction] = event_id
        return web.json_response(event, status=201)

    async def _get_event(self, record: RecordedRequest, user: str, event: str) -> web.Response:
        if event not in self.events:
            return web.json_response(graph_error("ErrorItemNotFound", "The specified object was not found in "
                                                 "the store."), status=404)
        if self._link_arrives(event):
            self.events[event]["onlineMeeting"] = self._online_meeting_info(event)
        return web.json_response(self.events[event])

    def _link_arrives(self, item_id: str) -> bool:
        """One more re-read of an item whose link is late: True when this one brings it."""
        if item_id not in self._link_pending:
            return False
        self._link_pending[item_id] -= 1
        if self._link_pending[item_id] > 0:
            return False
        del self._link_pending[item_id]
        return True

    async def _patch_event(self, record: RecordedRequest, user: str, event: str) -> web.Response:
        if event not in self.events:
            return await self._get_event(record, user, event)
        changes = {k: v for k, v in (record.body or {}).items() if not k.startswith("@")}
        self.events[event].update(changes)
        return web.json_response(self.events[event])

    # --- online meetings, mail, users --------------------------------------------------------
    async def _create_or_get(self, record: RecordedRequest, user: str) -> web.Response:
        body = record.body or {}
        if not is_object_id(user):  # application permissions: /users/{objectId} only
            return web.json_response(graph_error("NotFound", f"User '{user}' was not found: onlineMeetings "
                                                 "with application permissions take the user's object id."),
                                     status=404)
        external_id = body.get("externalId")
        if not external_id:
            return web.json_response(graph_error("BadRequest", "externalId is required."), status=400)
        if (user, external_id) in self.online_meetings:
            meeting = self.online_meetings[user, external_id]
            if self._link_arrives(meeting["id"]):
                meeting["joinWebUrl"] = self._join_web_url(meeting["id"])
            return web.json_response(meeting, status=200)
        meeting = json.loads(ONLINE_MEETING_TEMPLATE.read_text())
        meeting_id = "MSp" + uuid.uuid4().hex
        meeting.update(id=meeting_id, externalId=external_id, subject=body.get("subject"),
                       startDateTime=body.get("startDateTime"), endDateTime=body.get("endDateTime"),
                       joinWebUrl=None if self.join_link_after_reads else self._join_web_url(meeting_id))
        if self.join_link_after_reads:
            self._link_pending[meeting_id] = self.join_link_after_reads
        self.online_meetings[user, external_id] = meeting
        return web.json_response(meeting, status=201)

    @staticmethod
    def _join_web_url(meeting_id: str) -> str:
        return f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{meeting_id}%40thread.v2/0"

    async def _send_mail(self, record: RecordedRequest, user: str) -> web.Response:
        kind = record.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if kind == "text/plain":  # MIME format
                sent = from_mime(user, (record.raw_body or "").encode())
            elif kind == "application/json":
                message = ci_get(record.raw_body if isinstance(record.raw_body, dict) else {}, "message")
                if not isinstance(message, dict):
                    raise Refused(400, "ErrorInvalidRequest", "message is required.")
                sent = from_json(user, lower_camel(message), ci_get(record.raw_body, "saveToSentItems"))
            else:
                raise Refused(415, "UnsupportedMediaType", f"Content-Type {kind or '(none)'} is not supported: "
                              "use application/json or text/plain (MIME).")
        except Refused as refused:
            return web.json_response(graph_error(refused.code, refused.message), status=refused.status)
        self._sent.append(sent)
        return web.Response(status=202)

    async def _get_user(self, record: RecordedRequest, user: str) -> web.Response:
        mail = self._upn(user)
        if "@" not in mail:
            mail = f"{mail}@contoso.com"
        by_id = is_object_id(user) and object_id(mail) != user.lower()  # someone not in known_users
        found = {"id": user.lower() if by_id else object_id(mail), "mail": mail, "userPrincipalName": mail,
                 "displayName": mail.split("@")[0]}
        wanted = [name.strip() for name in record.query.get("$select", "").split(",") if name.strip()]
        return web.json_response({k: v for k, v in found.items() if k in wanted} if wanted else found)

    async def _organization(self, record: RecordedRequest) -> web.Response:
        return web.json_response({"value": [{"id": TENANT_ID, "displayName": "Contoso"}]})

    # --- calls -------------------------------------------------------------------------------
    async def _create_call(self, record: RecordedRequest) -> web.Response:
        call_id = str(uuid.uuid4())
        call = {**copy.deepcopy(record.body or {}), "id": call_id, "state": "establishing",
                "@odata.type": "#microsoft.graph.call"}
        self.calls[call_id] = call
        if self._notify_at:
            await self._notify_early(call_id, str(call.get("callbackUri") or ""))
        return web.json_response(call, status=201, headers={"Location": f"{self.base_url}/communications/"
                                                                        f"calls/{call_id}"})

    async def _notify_early(self, call_id: str, callback: str) -> None:
        import httpx  # only tests that ask for early notifications need a client

        url = self._notify_at + (urlsplit(callback).path or "/")
        async with httpx.AsyncClient(timeout=10) as http:
            for state in ("establishing", "established"):
                body = {"@odata.type": "#microsoft.graph.commsNotifications", "value": [{
                    "@odata.type": "#microsoft.graph.commsNotification", "changeType": "updated",
                    "resourceUrl": f"/communications/calls/{call_id}", "callbackUri": callback,
                    "resourceData": {"@odata.type": "#microsoft.graph.call", "state": state, "id": call_id}}]}
                answer = await http.post(url, json=body)
                self.early_notification_statuses.append(answer.status_code)

    async def _invite_participants(self, record: RecordedRequest, call: str) -> web.Response:
        if call not in self.calls:
            return web.json_response(graph_error("8514", "Call not found."), status=404)
        self.calls[call].setdefault("invited", []).extend((record.body or {}).get("participants", []))
        return web.json_response({"@odata.type": "#microsoft.graph.inviteParticipantsOperation",
                                  "id": str(uuid.uuid4()), "status": "running",
                                  "clientContext": (record.body or {}).get("clientContext")})

    # --- channels ----------------------------------------------------------------------------
    def _missing_role(self, needs: set[str], what: str) -> web.Response | None:
        if self.channel_roles & needs:
            return None
        return web.json_response(graph_error("Forbidden", f"Missing role permissions on the request. API requires "
                                             f"one of '{', '.join(sorted(needs))}' to {what}. Roles on the request "
                                             f"'{', '.join(sorted(self.channel_roles))}'. Resource specific consent "
                                             "grants on the request ''."), status=403)

    @staticmethod
    def _bad_channel_name(name: str) -> str:
        if not name.strip():
            return "displayName is required."
        if len(name) > CHANNEL_NAME_MAX:
            return f"Channel name cannot be longer than {CHANNEL_NAME_MAX} characters."
        if CHANNEL_NAME_FORBIDDEN.search(name) or ".." in name:
            return "Channel name contains invalid characters."
        if name[0] in "_." or name.endswith("."):
            return "Channel name cannot start with an underscore or a period, or end with a period."
        return ""

    @staticmethod
    def _team_refused(team: str) -> web.Response | None:
        """Graph names a team by its group id (a GUID) in /teams/{id}/…; Teams' own team id
        (19:…@thread.tacv2) is refused."""
        if is_object_id(team):
            return None
        return web.json_response(graph_error("BadRequest", f"Invalid team id {team}: a group id (GUID) is expected."),
                                 status=400)

    async def _create_channel(self, record: RecordedRequest, team: str) -> web.Response:
        if (refused := self._team_refused(team)) is not None:
            return refused
        refused = self._missing_role({"Channel.Create.Group", "Channel.Create"}, "create channels")
        if refused is not None:
            return refused
        body = record.body or {}
        name = str(body.get("displayName", ""))
        problem = self._bad_channel_name(name)
        if problem:
            return web.json_response(graph_error("BadRequest", problem), status=400)
        existing = self.channels.setdefault(team, [])
        if any(c["displayName"].lower() == name.lower() for c in existing):
            return web.json_response(graph_error("NameAlreadyExists", "Channel name already existed, please "
                                                 "use other name."), status=400)
        channel_id = f"19:{uuid.uuid4().hex}@thread.tacv2"
        channel = {"id": channel_id, "displayName": name, "description": body.get("description"),
                   "membershipType": body.get("membershipType", "standard"), "isArchived": False,
                   "createdDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "webUrl": f"https://teams.microsoft.com/l/channel/{quote(channel_id, safe='')}/"
                             f"{quote(name)}?groupId={team}&tenantId={TENANT_ID}"}
        existing.append(channel)
        return web.json_response(channel, status=201)

    def _read_refused(self) -> web.Response | None:
        return self._missing_role({"Channel.ReadBasic.All", "ChannelSettings.Read.All", "ChannelSettings.ReadWrite.All",
                                   "ChannelSettings.Read.Group", "ChannelSettings.ReadWrite.Group"}, "read channels")

    async def _list_channels(self, record: RecordedRequest, team: str) -> web.Response:
        if (refused := self._team_refused(team) or self._read_refused()) is not None:
            return refused
        channels = self.channels.get(team, [])
        wanted = re.fullmatch(r"displayName eq '(.*)'", record.query.get("$filter", ""))
        if wanted:
            name = wanted.group(1).replace("''", "'")
            channels = [c for c in channels if c["displayName"] == name]
        return web.json_response({"value": channels})

    def _channel(self, team: str, channel_id: str) -> dict[str, Any] | None:
        return next((c for c in self.channels.get(team, []) if c["id"] == unquote(channel_id)), None)

    async def _get_channel(self, record: RecordedRequest, team: str, channel: str) -> web.Response:
        if (refused := self._team_refused(team)) is not None:
            return refused
        if (refused := self._read_refused()) is not None:
            return refused
        found = self._channel(team, channel)
        if found is None:
            return web.json_response(graph_error("NotFound", f"Channel {channel} not found."), status=404)
        return web.json_response({"membershipType": "standard", **found})

    async def _archive_channel(self, record: RecordedRequest, team: str, channel: str) -> web.Response:
        refused = self._team_refused(team) or self._missing_role({"ChannelSettings.ReadWrite.All"}, "archive channels")
        if refused is not None:
            return refused
        found = self._channel(team, channel)
        if found is None:
            return web.json_response(graph_error("NotFound", f"Channel {channel} not found."), status=404)
        if team in self.archived_teams:
            message = f"Team has to be active, for channel to be archived or unarchived: {unquote(channel)}"
            return web.json_response(graph_error("BadRequest", message), status=400)
        if found["isArchived"]:
            return web.json_response(graph_error("BadRequest", "Channel is already archived."), status=400)
        found["isArchived"] = True
        if self.on_archive is not None:
            self.on_archive(channel)
        return web.Response(status=202, headers={"Location": f"/teams('{team}')/channels('{channel}')/operations"})
