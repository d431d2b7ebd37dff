"""The Bot Connector that Beacon serves for its own playground: activities whose serviceUrl is
<beacon>/playground/connector/ make Beacon post, reply and update here, over real HTTP through
botbuilder's ConnectorClient, exactly as it would to Teams. What it keeps (in memory, for this
process only) is what the playground page shows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

PLAYGROUND_USER_NAME = "You (playground)"
MAX_MESSAGES = 500


@dataclass
class PostedMessage:
    id: str
    conversation_id: str
    reply_to_id: str | None
    activity: dict[str, Any]
    seq: int  # bumped on every update, so the page knows what changed
    updates: int = 0
    deleted: bool = False

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "conversationId": self.conversation_id, "replyToId": self.reply_to_id,
                "seq": self.seq, "updates": self.updates, "deleted": self.deleted,
                "text": self.activity.get("text"), "attachments": self.activity.get("attachments") or []}


@dataclass
class PlaygroundConnector:
    messages: dict[str, PostedMessage] = field(default_factory=dict)
    _last_id: int = 0
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def feed(self, since: int = 0) -> dict[str, Any]:
        shown = [m.view() for m in self.messages.values() if m.seq > since]
        latest = max((m.seq for m in self.messages.values()), default=0)
        return {"messages": shown, "seq": latest}

    async def handle(self, request: web.Request) -> web.Response:
        """/playground/connector/v3/...: the routes of the Bot Connector REST API Beacon uses."""
        raw = request.raw_path.partition("?")[0].partition("/playground/connector/")[2]
        parts = [unquote(s) for s in raw.split("/") if s]
        if parts[:1] != ["v3"] or parts[1:2] != ["conversations"]:
            return _error(404, f"no route for {request.method} /{raw}")
        rest = parts[2:]
        body = await _json_body(request)
        if request.method == "POST" and not rest:
            return self._create(body)
        if len(rest) >= 2 and rest[1] == "members":
            return web.json_response(_member(rest[2]) if len(rest) > 2 else [])
        if len(rest) in (2, 3) and rest[1] == "activities":
            if request.method == "POST":
                return self._send(rest[0], body, rest[2] if len(rest) == 3 else None)
            if request.method == "PUT" and len(rest) == 3:
                return self._update(rest[2], body)
            if request.method == "DELETE" and len(rest) == 3:
                return self._delete(rest[2])
        return _error(404, f"the playground connector has no route for {request.method} /{raw}")

    def _create(self, body: dict[str, Any]) -> web.Response:
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        activity = body.get("activity")
        if not channel or not isinstance(activity, dict):
            # A 1:1 chat: the playground has one person, whose chat is the channel view itself.
            return web.json_response({"id": "a:playground-personal-chat"}, status=201)
        root_id = self._next_id()
        conversation_id = f"{channel};messageid={root_id}"
        self._store(root_id, conversation_id, None, activity)
        return web.json_response({"id": conversation_id, "activityId": root_id}, status=201)

    def _send(self, conversation_id: str, body: dict[str, Any], reply_to: str | None) -> web.Response:
        activity_id = self._next_id()
        if ";messageid=" not in conversation_id and reply_to:
            conversation_id = f"{conversation_id};messageid={reply_to}"
        self._store(activity_id, conversation_id, reply_to, body)
        return web.json_response({"id": activity_id}, status=201)

    def _update(self, activity_id: str, body: dict[str, Any]) -> web.Response:
        message = self.messages.get(activity_id)
        if message is None:
            return _error(404, f"activity {activity_id} was never posted")
        message.activity, message.updates, message.seq = body, message.updates + 1, next(self._seq)
        self._notify()
        return web.json_response({"id": activity_id})

    def _delete(self, activity_id: str) -> web.Response:
        message = self.messages.get(activity_id)
        if message is not None:
            message.deleted, message.seq = True, next(self._seq)
            self._notify()
        return web.Response(status=200)

    def _store(self, activity_id: str, conversation_id: str, reply_to: str | None,
               activity: dict[str, Any]) -> None:
        self.messages[activity_id] = PostedMessage(activity_id, conversation_id, reply_to, activity,
                                                   next(self._seq))
        while len(self.messages) > MAX_MESSAGES:
            self.messages.pop(next(iter(self.messages)))
        self._notify()

    def _next_id(self) -> str:
        """Teams-like: milliseconds since the epoch, unique and increasing (the page sorts by it)."""
        self._last_id = max(self._last_id + 1, time.time_ns() // 1_000_000)
        return str(self._last_id)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass


PLAYGROUND_TENANT = "00000000-0000-4000-8000-00000000beac"  # the tenant static/playground.js puts on activities


def _member(member_id: str) -> dict[str, Any]:
    """Everyone the bot looks up is the one person at the keyboard."""
    return {"id": member_id, "name": PLAYGROUND_USER_NAME, "aadObjectId": member_id.removeprefix("29:"),
            "userPrincipalName": "you@playground.local", "email": "you@playground.local",
            "tenantId": PLAYGROUND_TENANT, "userRole": "user"}


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": "NotFound" if status == 404 else "BadArgument",
                                         "message": message}}, status=status)
