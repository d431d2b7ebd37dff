"""A fake Bot Framework Connector (the REST API behind an activity's `serviceUrl`) on loopback.

End-to-end tests send Beacon activities whose serviceUrl is this fake's URL; whatever the bot then
posts, replies, updates or looks up arrives here over real HTTP from botbuilder's ConnectorClient.
The fake answers as Teams does (numeric activity ids, "<channel>;messageid=<root>" thread ids,
TeamsChannelAccount members, Bot Framework error JSON), records everything (see _recording.py for
the query helpers and `wait_for`) and injects faults: error statuses with Retry-After, slow answers,
answers lost after the post took effect, connections reset before or after the post took effect.

    async with FakeConnector() as fake:
        activity = channel_message("declare db down", service_url=fake.url)
        ...
        root = (await fake.wait_for_posts(1))[0]

The fake runs in the test's event loop. botbuilder's Teams-only calls (TeamsInfo.get_team_details,
get_team_channels, meeting info/notifications) use a synchronous client that blocks that loop, so
they hang here until their socket times out (and stall every turn in production too).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.fakes._recording import ConnectorRecord, Message, Operation, RecordedRequest, reset_connection, root_of

__all__ = ["FakeConnector", "Message", "RecordedRequest"]

# Route shapes after "/v3/": ids sit at the odd positions ("conversations/{id}/activities/{id}").
ROUTES: dict[tuple[str, tuple[str, ...]], Operation] = {
    ("POST", ("conversations",)): "create_conversation",
    ("POST", ("conversations", "*", "activities")): "send",
    ("POST", ("conversations", "*", "activities", "*")): "reply",
    ("PUT", ("conversations", "*", "activities", "*")): "update",
    ("DELETE", ("conversations", "*", "activities", "*")): "delete",
    ("GET", ("conversations", "*", "members")): "get_members",
    ("GET", ("conversations", "*", "members", "*")): "get_member",
    ("GET", ("conversations", "*", "pagedmembers")): "get_paged_members",
    ("GET", ("conversations", "*", "activities", "*", "members")): "get_activity_members",
}
MEMBER_LISTS_PER_MINUTE = 5  # Teams throttles the non-paged roster to five requests a minute
# Codes for injected errors; a test can pass its own. 403/404/413 are the ones Teams documents.
ERROR_CODES = {400: "BadArgument", 401: "Unauthorized", 403: "BotNotInConversationRoster",
               404: "ConversationNotFound", 412: "PreconditionFailed", 413: "MessageSizeTooBig",
               429: "Throttled", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
               504: "GatewayTimeout"}

# Teams' limits per bot per conversation, a channel and its threads being one conversation
# (msteams-docs bots/how-to/rate-limit): (most requests, per seconds), over sliding windows.
SEND_LIMITS = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))  # send, reply, create, update, delete
READ_LIMITS = ((14, 1.0), (16, 2.0), (120, 30.0), (3600, 3600.0))  # member and conversation reads
SENDS = frozenset({"create_conversation", "send", "reply", "update", "delete"})
# (msteams-docs bots/how-to/format-your-bot-messages): a bot message may carry about 100 KB, the
# whole payload encoded as UTF-16 and base64 images left out; more is refused with 413
# MessageSizeTooBig.
MAX_MESSAGE_BYTES = 100 * 1024
_BASE64_IMAGE = re.compile(r"data:image/[a-z+.-]+;base64,[A-Za-z0-9+/=]*")
READS = frozenset({"get_members", "get_member", "get_paged_members", "get_activity_members"})


class SupportsMember(Protocol):
    """Anything that can describe itself as a TeamsChannelAccount (tests.teams_activities.Person)."""

    def member(self) -> dict[str, Any]: ...


@dataclass
class Fault:
    remaining: float  # math.inf for a lasting slow-down
    status: int | None  # None: answer normally, only late (or reset the connection, with `reset`)
    retry_after: str | None = None
    method: str | None = None
    path_contains: str | None = None
    delay: float = 0.0
    code: str | None = None
    message: str | None = None
    after_handling: bool = False  # the request takes effect, then the answer is an error (a lost answer)
    reset: bool = False  # drop the connection without an answer instead of answering
    operation: Operation | None = None
    until: float | None = None  # an outage: every matching request fails until then (the fake's clock)
    now: Callable[[], float] = time.monotonic

    def matches(self, request: RecordedRequest) -> bool:
        if self.until is not None and self.now() >= self.until:
            return False
        return (self.remaining > 0 and (self.method is None or self.method.upper() == request.method)
                and (self.path_contains is None or self.path_contains in request.path)
                and (self.operation is None or self.operation == request.operation))


def error_body(code: str, message: str) -> dict[str, Any]:
    """The Bot Framework ErrorResponse shape that msrest deserializes into ErrorResponseException."""
    return {"error": {"code": code, "message": message}}


class FakeConnector(ConnectorRecord):
    """`async with FakeConnector() as fake:`; put `fake.url` in activities' serviceUrl.

    With `strict=True`, updating or deleting an activity this fake never posted answers 404 (by
    default it is accepted, since tests often invoke cards that were never posted here). With
    `rate_limits=True` it counts each conversation's requests as Teams does (SEND_LIMITS,
    READ_LIMITS, on `clock`) and answers 429 with Retry-After beyond them, taking no effect."""

    def __init__(self, *, strict: bool = False, clock: Callable[[], float] = time.monotonic,
                 rate_limits: bool = False) -> None:
        super().__init__()
        self.strict = strict
        self.rate_limits = rate_limits
        self._counted: dict[tuple[str, str], list[float]] = {}  # (sends|reads, conversation) → times
        self.clock = clock  # seconds, for outages: a test may pass a clock it moves itself
        self.url = ""
        self._members: list[tuple[str | None, dict[str, Any]]] = []
        self._without_bot: dict[str, set[str]] = {}  # team id -> its channels, where the bot is not installed
        self.archived: set[str] = set()  # channels archived (in Graph): nobody posts there any more
        self._member_lists: list[float] = []  # when the non-paged roster was asked for (throttled)
        self._page_tokens: dict[str, tuple[str, int]] = {}  # continuationToken -> (conversation, next index)
        self._faults: list[Fault] = []
        self._slow: list[Fault] = []
        self._last_id = 0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        """Listen on an ephemeral 127.0.0.1 port; returns the service URL (with trailing slash)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown timeout: a test that gave up on a slow answer must not wait for it.
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeConnector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- set-up by tests -------------------------------------------------------------------
    def add_member(self, member: SupportsMember | Mapping[str, Any], *,
                   conversation_id: str | None = None) -> dict[str, Any]:
        """Make a person known to member look-ups, in every conversation or only in one (a channel
        id covers its threads). Look-ups match the 29: id, aadObjectId, userPrincipalName or email."""
        account = dict(member) if isinstance(member, Mapping) else member.member()
        self._members.append((None if conversation_id is None else _channel_of(conversation_id), account))
        return account

    def member(self, user_id: str) -> dict[str, Any] | None:
        """The member record of someone known to look-ups (by 29: id or aadObjectId), if any."""
        wanted = user_id.lower()
        return next((dict(account) for _, account in self._members
                     if wanted in {str(account.get(k) or "").lower() for k in ("id", "aadObjectId")}), None)

    def remove_bot(self, team_id: str, *channel_ids: str) -> None:
        """Beacon is not (or no longer) installed in this team: as Teams does, every post, reply,
        update or member look-up in the team's channels (its General channel's id is the team's)
        answers 403 BotNotInConversationRoster until `add_bot`."""
        self._without_bot[team_id] = {team_id, *channel_ids}

    def add_bot(self, team_id: str) -> None:
        self._without_bot.pop(team_id, None)

    def archive_channel(self, channel_id: str) -> None:
        """The channel was archived: as Teams does, a post, reply or edit there is refused (403)."""
        self.archived.add(channel_id)

    def fail_next(self, count: int = 1, status: int = 503, *, retry_after: float | str | None = None,
                  method: str | None = None, path_contains: str | None = None, delay: float | None = None,
                  code: str | None = None, message: str | None = None, after_handling: bool = False,
                  operation: Operation | None = None) -> None:
        """Answer the next `count` matching requests with `status` and an error body (and Retry-After,
        after `delay` seconds). They are recorded as failed and post nothing, unless `after_handling`:
        then the post happens and only the answer fails, as when a response is lost. Requests match
        by `method`, a fragment of the decoded path and the `operation` ("create_conversation"…)."""
        self._faults.append(Fault(count, status, None if retry_after is None else str(retry_after),
                                  method, path_contains, delay or 0.0, code, message, after_handling,
                                  operation=operation))

    def outage(self, seconds: float, status: int = 503, *, retry_after: float | str | None = None,
               method: str | None = None, path_contains: str | None = None) -> None:
        """Teams is down: every matching request answers `status` for the next `seconds` on the fake's
        clock (a Bot Connector outage answers 503, or 502/504 from its gateway), posting nothing."""
        self._faults.append(Fault(math.inf, status, None if retry_after is None else str(retry_after),
                                  method, path_contains, until=self.clock() + seconds, now=self.clock))

    def end_outage(self) -> None:
        """Teams is back: every outage still running ends now."""
        for fault in self._faults:
            if fault.until is not None:
                fault.until = min(fault.until, self.clock())

    def reset_next(self, count: int = 1, *, method: str | None = None, path_contains: str | None = None,
                   delay: float | None = None, after_handling: bool = False,
                   operation: Operation | None = None) -> None:
        """Drop the connection of the next `count` matching requests (a TCP reset, no HTTP answer),
        after `delay` seconds. They are recorded as `reset` and post nothing, unless `after_handling`:
        then the post happens first and only the answer is lost with the connection."""
        self._faults.append(Fault(count, None, method=method, path_contains=path_contains, delay=delay or 0.0,
                                  after_handling=after_handling, reset=True, operation=operation))

    def delay_next(self, count: int, seconds: float, *, method: str | None = None,
                   path_contains: str | None = None, operation: Operation | None = None) -> None:
        """Answer the next `count` matching requests normally, but only after `seconds` (the post
        happens then, whether or not the client still waits)."""
        self._faults.append(Fault(count, None, method=method, path_contains=path_contains, delay=seconds,
                                  operation=operation))

    def slow_down(self, seconds: float, *, method: str | None = None, path_contains: str | None = None) -> None:
        """Delay every matching request from now on; `slow_down(0)` makes the fake fast again."""
        if seconds <= 0:
            self._slow.clear()
        else:
            self._slow.append(Fault(math.inf, None, method=method, path_contains=path_contains, delay=seconds))

    def new_activity_id(self) -> str:
        """A Teams-like message id: milliseconds since the epoch, unique and increasing."""
        self._last_id = max(self._last_id + 1, time.time_ns() // 1_000_000)
        return str(self._last_id)

    # -- machinery -------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = await _record(request)
        self.requests.append(record)
        fault = next((f for f in self._faults if f.matches(record)), None)
        if fault:
            fault.remaining -= 1
        delay = sum(f.delay for f in self._slow if f.matches(record)) + (fault.delay if fault else 0.0)
        try:
            if delay:
                await self._sleep(delay)
            failing = fault is not None and (fault.status is not None or fault.reset)
            throttled = None if failing else self._throttled(record)
            if throttled is not None:
                response = _error(429, "Throttled", "too many requests to this conversation",
                                  {"Retry-After": str(max(1, math.ceil(throttled)))})
            elif fault and failing and not fault.after_handling:
                response = self._fault_response(fault, request, record)
            else:
                response = await self._answer(record)
                if fault and failing:
                    response = self._fault_response(fault, request, record)
            if not record.reset:
                record.status = response.status
            return response
        except Exception:
            record.status = 500  # a bug in the fake; aiohttp answers 500 and logs it
            raise
        finally:
            await self._notify()

    async def _answer(self, record: RecordedRequest) -> web.Response:
        if (refused := self._not_installed(record) or self._archived(record) or self._too_big(record)) is not None:
            return refused
        handlers: dict[Operation, Callable[[RecordedRequest], Awaitable[web.Response]]] = {
            "create_conversation": self._on_create, "send": self._on_send, "reply": self._on_send,
            "update": self._on_update, "delete": self._on_delete, "get_member": self._on_member,
            "get_members": self._on_member_list, "get_activity_members": self._on_member_list,
            "get_paged_members": self._on_paged_members,
        }
        handler = handlers.get(record.operation)
        if handler is None:
            return _error(404, "NotFound", f"the fake connector has no route for {record.method} {record.path}")
        return await handler(record)

    def _not_installed(self, record: RecordedRequest) -> web.Response | None:
        """403 for a conversation in a team the bot is not installed in (a new thread names its
        channel in channelData)."""
        if not self._without_bot:
            return None
        body = record.body if isinstance(record.body, dict) else {}
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id") \
            if record.operation == "create_conversation" else _channel_of(record.conversation_id or "")
        for team, channels in self._without_bot.items():
            if channel in channels:
                return _error(403, "BotNotInConversationRoster",
                              f"The bot is not part of the conversation roster (team {team}).")
        return None

    def _too_big(self, record: RecordedRequest) -> web.Response | None:
        """413 for a post or edit over MAX_MESSAGE_BYTES, measured as Teams does."""
        if record.operation not in SENDS or record.operation == "delete":
            return None
        text = _BASE64_IMAGE.sub("", json.dumps(record.body, ensure_ascii=False))
        size = len(text.encode("utf-16-le"))
        if size <= MAX_MESSAGE_BYTES:
            return None
        return _error(413, "MessageSizeTooBig", f"The message is {size} bytes as UTF-16, over {MAX_MESSAGE_BYTES}.")

    def _archived(self, record: RecordedRequest) -> web.Response | None:
        if not self.archived or record.operation not in SENDS:
            return None
        body = record.body if isinstance(record.body, dict) else {}
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id") \
            if record.operation == "create_conversation" else _channel_of(record.conversation_id or "")
        if channel in self.archived:
            return _error(403, "Forbidden", f"The channel {channel} is archived: it takes no new messages.")
        return None

    def _fault_response(self, fault: Fault, request: web.Request, record: RecordedRequest) -> web.Response:
        if fault.reset:
            record.reset = True
            reset_connection(request)
            return web.Response(status=502)  # never written: the connection is gone
        assert fault.status is not None
        code = fault.code or ERROR_CODES.get(fault.status, "ServiceError")
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        return _error(fault.status, code, fault.message or f"injected {fault.status}", headers)

    def _throttled(self, record: RecordedRequest) -> float | None:
        """With rate limits on: seconds until this conversation may take the request, or None
        (then it is counted)."""
        if not self.rate_limits:
            return None
        if record.operation in SENDS:
            family, limits = "sends", SEND_LIMITS
        elif record.operation in READS:
            family, limits = "reads", READ_LIMITS
        else:
            return None
        body = record.body if isinstance(record.body, dict) else {}
        conversation = (((body.get("channelData") or {}).get("channel") or {}).get("id")
                        if record.operation == "create_conversation" else _channel_of(record.conversation_id or ""))
        if not conversation:
            return None  # a new one-to-one chat: no conversation to count yet
        now = self.clock()
        times = self._counted.setdefault((family, conversation), [])
        times[:] = [t for t in times if t > now - limits[-1][1]]
        waits = [min(t for t in times if t > now - per) + per - now for most, per in limits
                 if sum(t > now - per for t in times) >= most]
        if waits:
            return max(waits)
        times.append(now)
        return None

    def throttled(self) -> list[RecordedRequest]:
        """The requests answered 429 because of the rate limits (or an injected 429)."""
        return [r for r in self.requests if r.status == 429]

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # -- operations ------------------------------------------------------------------------
    async def _on_create(self, record: RecordedRequest) -> web.Response:
        body = record.body if isinstance(record.body, dict) else {}
        channel_id = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        activity = body.get("activity")
        if channel_id:
            if not isinstance(activity, dict):
                return _error(400, "BadArgument", "a channel conversation starts with an activity")
            root_id = self.new_activity_id()
            conversation_id = f"{channel_id};messageid={root_id}"
            self._store_post(root_id, conversation_id, "root", activity, record.at)
            record.delivered = True
            return web.json_response({"id": conversation_id, "activityId": root_id, "serviceUrl": self.url},
                                     status=201)
        members = body.get("members") or []
        if not members or not isinstance(members[0], dict) or not members[0].get("id"):
            return _error(400, "BadArgument", "give channelData.channel.id or members")
        refused = self._personal_refusal(body, members)
        if refused is not None:
            return refused
        # Teams answers a 1:1 chat with the same "a:" id every time.
        conversation_id = "a:1" + hashlib.sha256(str(members[0]["id"]).encode()).hexdigest()[:40]
        answer: dict[str, Any] = {"id": conversation_id}
        if isinstance(activity, dict):
            answer["activityId"] = self.new_activity_id()
            self._store_post(answer["activityId"], conversation_id, "send", activity, record.at)
            record.delivered = True
        return web.json_response(answer, status=201)

    def _personal_refusal(self, body: dict[str, Any], members: list[Any]) -> web.Response | None:
        """A one-to-one chat, as Teams allows it: one member, by Teams user id (29:…), the tenant
        named, and only with someone who has the app (known here through `add_member`: a member of
        a team where the bot is installed). Otherwise Teams refuses, and so does this fake."""
        tenant = (body.get("channelData") or {}).get("tenant", {}).get("id") or body.get("tenantId") \
            or body.get("tenantID")
        if not tenant:
            return _error(400, "BadArgument", "a one-to-one conversation needs the tenant id (channelData.tenant.id)")
        if body.get("isGroup") or len(members) != 1:
            return _error(400, "BadArgument", "a bot can start a one-to-one chat with one member only")
        user = str(members[0]["id"])
        if not user.startswith("29:"):
            return _error(400, "BadArgument", f"{user} is not a Teams user id (29:…)")
        if not any(account.get("id") == user for _, account in self._members):
            return _error(403, "BotNotInConversationRoster",
                          f"the bot is not installed for {user} (not a personal app, nor in any team of theirs)")
        return None

    async def _on_send(self, record: RecordedRequest) -> web.Response:
        if not isinstance(record.body, dict):
            return _error(400, "BadArgument", "the body must be an activity")
        assert record.conversation_id is not None
        conversation_id = record.conversation_id
        target = self._messages.get(record.activity_id or "")
        if target and root_of(conversation_id) is None and target.conversation_id.startswith(conversation_id):
            # A reply to a post, addressed to the bare channel: Teams puts it into that post's thread.
            conversation_id = f"{conversation_id};messageid={root_of(target.conversation_id) or target.id}"
        activity_id = self.new_activity_id()
        self._store_post(activity_id, conversation_id, "reply" if record.operation == "reply" else "send",
                         record.body, record.at, record.activity_id)
        record.delivered = True
        return web.json_response({"id": activity_id}, status=201)

    async def _on_update(self, record: RecordedRequest) -> web.Response:
        assert record.conversation_id is not None and record.activity_id is not None
        if not isinstance(record.body, dict):
            return _error(400, "BadArgument", "the body must be an activity")
        if self.strict and record.activity_id not in self._messages:
            return _error(404, "NotFound", f"activity {record.activity_id} was never posted")
        self._store_update(record.activity_id, record.conversation_id, record.body)
        record.delivered = True
        return web.json_response({"id": record.activity_id})

    async def _on_delete(self, record: RecordedRequest) -> web.Response:
        assert record.conversation_id is not None and record.activity_id is not None
        if self.strict and record.activity_id not in self._messages:
            return _error(404, "NotFound", f"activity {record.activity_id} was never posted")
        self._store_delete(record.activity_id, record.conversation_id)
        record.delivered = True
        return web.Response(status=200)

    async def _on_member(self, record: RecordedRequest) -> web.Response:
        wanted = (record.member_id or "").lower()
        for account in self._roster(record.conversation_id):
            keys = (account.get(k) for k in ("id", "aadObjectId", "userPrincipalName", "email"))
            if wanted in {str(k).lower() for k in keys if k}:
                return web.json_response(account)
        return _error(404, "MemberNotFoundInConversation",
                      f"{record.member_id} is not a member of {record.conversation_id}")

    async def _on_member_list(self, record: RecordedRequest) -> web.Response:
        """The non-paged roster: Teams throttles it hard (five requests a minute) and tells bots to
        use pagedmembers instead; so does this fake."""
        now = self.clock()
        self._member_lists = [t for t in self._member_lists if t > now - 60] + [now]
        if len(self._member_lists) > MEMBER_LISTS_PER_MINUTE:
            return _error(429, "Throttled", "GetConversationMembers is throttled: use pagedmembers",
                          {"Retry-After": "60"})
        return web.json_response(self._roster(record.conversation_id))

    async def _on_paged_members(self, record: RecordedRequest) -> web.Response:
        """One page of the roster, as Teams pages it: pageSize below 50 counts as 50, above 500 as
        500, 200 when not given; the continuationToken must be one this fake handed out for that
        conversation. A chat is not paged: its whole roster comes at once."""
        members = self._roster(record.conversation_id)
        conversation = _channel_of(record.conversation_id or "")
        if not conversation.startswith("19:"):
            return web.json_response({"members": members})
        try:
            size = min(500, max(50, int(record.query.get("pageSize") or 200)))
        except ValueError:
            return _error(400, "BadArgument", f"pageSize {record.query.get('pageSize')!r} is not a number")
        token = record.query.get("continuationToken")
        start = 0
        if token:
            issued = self._page_tokens.get(token)
            if issued is None or issued[0] != conversation:
                return _error(400, "BadArgument", "the continuationToken is not valid for this conversation")
            start = issued[1]
        page, end = members[start:start + size], start + size
        answer: dict[str, Any] = {"members": page}
        if end < len(members):
            answer["continuationToken"] = next_token = hashlib.sha256(f"{conversation}:{end}:{len(self._page_tokens)}"
                                                                      .encode()).hexdigest()
            self._page_tokens[next_token] = (conversation, end)
        return web.json_response(answer)

    def _roster(self, conversation_id: str | None) -> list[dict[str, Any]]:
        channel = _channel_of(conversation_id or "")
        return [account for scope, account in self._members if scope is None or scope == channel]


def _channel_of(conversation_id: str) -> str:
    return conversation_id.partition(";messageid=")[0]


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(code, message), status=status, headers=headers)


async def _record(request: web.Request) -> RecordedRequest:
    """Parse the raw path ourselves: conversation ids arrive percent-encoded (";" "@" ":" and even "/")."""
    raw_path = request.raw_path.partition("?")[0]
    segments = [unquote(s) for s in raw_path.split("/")[1:]]
    rest = segments[1:] if segments[:1] == ["v3"] else []
    shape = tuple("*" if i % 2 else s for i, s in enumerate(rest))
    operation = ROUTES.get((request.method, shape), "unknown")
    ids = {rest[i - 1]: rest[i] for i in range(1, len(rest), 2)}
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return RecordedRequest(
        request.method, "/" + "/".join(segments), request.raw_path, operation, ids.get("conversations"),
        ids.get("activities"), ids.get("members"), body, CIMultiDictProxy(CIMultiDict(request.headers)),
        datetime.now(UTC), query=dict(request.query))
