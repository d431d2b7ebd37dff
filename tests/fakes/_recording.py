"""What the fake Bot Connector received, and the questions end-to-end tests ask about it.

Kept apart from the HTTP side (tests/fakes/connector.py) so the query helpers read as plain Python:
every request is a `RecordedRequest`; every activity the bot posted is a `Message` whose versions
are the post and each later update, so a test sees both what Teams shows now and how it got there.

`reset_connection` is the one piece of HTTP machinery all the fakes share (connector, Graph,
Freshdesk): it drops a request's TCP connection without an answer.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from aiohttp import web

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"

Operation = Literal["create_conversation", "send", "reply", "update", "delete", "get_member", "get_members",
                    "get_paged_members", "get_activity_members", "unknown"]
MessageKind = Literal["root", "send", "reply", "unseen"]
T = TypeVar("T")


@dataclass
class RecordedRequest:
    """One HTTP request as the fake understood it; `status` is 0 while the answer is still pending."""

    method: str
    path: str  # percent-decoded, segment by segment
    raw_path: str
    operation: Operation
    conversation_id: str | None
    activity_id: str | None
    member_id: str | None
    body: Any
    headers: Mapping[str, str]
    at: datetime
    status: int = 0  # stays 0 when the connection was reset instead of answered
    delivered: bool = False  # it changed what Teams would show (a post, an update, a delete)
    reset: bool = False  # the connection was dropped without an answer
    query: dict[str, str] = field(default_factory=dict)  # the query string's parameters

    @property
    def failed(self) -> bool:
        return self.reset or self.status >= 400

    def describe(self) -> str:
        if self.reset:
            return f"{self.method} {self.path} -> reset" + (" (after taking effect)" if self.delivered else "")
        return f"{self.method} {self.path} -> {self.status or 'pending'}"


@dataclass
class Message:
    """An activity the bot put into a conversation, with every version it has had (first = as posted)."""

    id: str
    conversation_id: str
    kind: MessageKind  # "unseen": updated or deleted, but never posted through this fake
    reply_to_id: str | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    received_at: datetime | None = None  # when the request that posted it arrived (None: never posted here)

    @property
    def activity(self) -> dict[str, Any]:
        """The current version: what a reader sees now."""
        return self.versions[-1] if self.versions else {}

    @property
    def text(self) -> str | None:
        return self.activity.get("text")

    @property
    def cards(self) -> list[dict[str, Any]]:
        return card_contents(self.activity)


def card_contents(activity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Adaptive Card bodies (`content`) among an activity's attachments."""
    return [a["content"] for a in activity.get("attachments") or [] if a.get("contentType") == ADAPTIVE_CARD]


def root_of(conversation_id: str) -> str | None:
    """The thread root in a Teams channel conversation id ("19:…@thread.tacv2;messageid=<root>")."""
    _, marker, root = conversation_id.partition(";messageid=")
    return root if marker else None


class ConnectorRecord:
    """Recorded requests and messages, with query helpers and `wait_for`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._messages: dict[str, Message] = {}  # insertion order is post order
        self._changed = asyncio.Condition()

    # -- what the bot posted ---------------------------------------------------------------
    def message(self, activity_id: str) -> Message:
        try:
            return self._messages[activity_id]
        except KeyError:
            raise AssertionError(f"no activity {activity_id!r} was posted or updated; {self.summary()}") from None

    def messages(self, conversation_prefix: str | None = None) -> list[Message]:
        """Every message, posted or only updated, in the order the fake first saw it."""
        return [m for m in self._messages.values()
                if conversation_prefix is None or m.conversation_id.startswith(conversation_prefix)]

    def posted(self, conversation_prefix: str | None = None) -> list[Message]:
        """New posts (thread roots, sends, replies) in order; deleted ones too, flagged `deleted`."""
        return [m for m in self.messages(conversation_prefix) if m.kind != "unseen"]

    def current(self, activity_id: str) -> dict[str, Any]:
        """The activity as Teams would show it now (after updates)."""
        return self.message(activity_id).activity

    def updates(self, activity_id: str) -> list[dict[str, Any]]:
        """The bodies of accepted updates of this activity, in order."""
        message = self._messages.get(activity_id)
        if message is None:
            return []
        return message.versions[1:] if message.kind != "unseen" else list(message.versions)

    def thread(self, root_id: str) -> list[Message]:
        """Replies in the channel thread under `root_id` (the root itself excluded), in order."""
        return [m for m in self.posted() if root_of(m.conversation_id) == root_id and m.id != root_id]

    def cards(self, conversation_prefix: str | None = None) -> list[dict[str, Any]]:
        """The current Adaptive Card contents of every live post, in post order."""
        return [card for m in self.posted(conversation_prefix) if not m.deleted for card in m.cards]

    def texts(self, conversation_prefix: str | None = None) -> list[str]:
        """The text of every live post that has one, in post order."""
        return [m.text for m in self.posted(conversation_prefix) if not m.deleted and m.text]

    # -- what arrived ----------------------------------------------------------------------
    def calls(self, operation: Operation | None = None, *, failed: bool | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests
                if (operation is None or r.operation == operation) and (failed is None or r.failed == failed)]

    def summary(self) -> str:
        lines = [r.describe() for r in self.requests] or ["(no requests)"]
        posts = [f"{m.id} in {m.conversation_id}: {m.text or [c.get('type') for c in m.cards]}"
                 for m in self.posted()]
        return "received:\n  " + "\n  ".join(lines) + "\nposted:\n  " + ("\n  ".join(posts) or "(nothing)")

    # -- waiting ---------------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[ConnectorRecord], T | None], timeout: float = 20.0) -> T:
        """Wait until `predicate(self)` is truthy and return its value. A predicate that raises
        LookupError or AssertionError (`fake.posted()[2]`, an assert) counts as not yet true."""
        last_error: list[BaseException] = []

        def check() -> Any:
            try:
                return predicate(self)
            except (LookupError, AssertionError) as error:
                last_error[:] = [error]
                return None

        async with self._changed:
            try:
                return await asyncio.wait_for(self._changed.wait_for(check), timeout)
            except TimeoutError:
                why = f" (last: {last_error[0]!r})" if last_error else ""
                raise AssertionError(f"fake connector: condition not met within {timeout}s{why}; "
                                     f"{self.summary()}") from None

    async def wait_for_posts(self, count: int, conversation_prefix: str | None = None,
                             timeout: float = 20.0) -> list[Message]:
        """Wait until at least `count` posts exist (in that conversation) and return them all."""
        def enough(record: ConnectorRecord) -> list[Message] | None:
            found = record.posted(conversation_prefix)
            return found if len(found) >= count else None

        return await self.wait_for(enough, timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- changes, called by the server -----------------------------------------------------
    def _store_post(self, activity_id: str, conversation_id: str, kind: MessageKind, activity: dict[str, Any],
                    received_at: datetime, reply_to_id: str | None = None) -> None:
        self._messages[activity_id] = Message(activity_id, conversation_id, kind, reply_to_id,
                                              [_stamped(activity, activity_id, conversation_id)],
                                              received_at=received_at)

    def _store_update(self, activity_id: str, conversation_id: str, activity: dict[str, Any]) -> None:
        message = self._messages.setdefault(activity_id, Message(activity_id, conversation_id, "unseen", None))
        message.versions.append(_stamped(activity, activity_id, conversation_id))

    def _store_delete(self, activity_id: str, conversation_id: str) -> None:
        message = self._messages.setdefault(activity_id, Message(activity_id, conversation_id, "unseen", None))
        message.deleted = True


def _stamped(activity: dict[str, Any], activity_id: str, conversation_id: str) -> dict[str, Any]:
    """The activity as Teams stores it: with its id and conversation filled in."""
    conversation = dict(activity.get("conversation") or {})
    conversation["id"] = conversation_id
    return {**activity, "id": activity_id, "conversation": conversation}


def reset_connection(request: web.Request) -> None:
    """Drop the request's connection with a TCP RST (SO_LINGER 0, then abort): the client sees
    "connection reset by peer" and no HTTP answer. Whatever the handler returns afterwards is
    never written; aiohttp ignores the failed write as a premature disconnection."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
