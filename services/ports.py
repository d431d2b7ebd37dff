"""The small interfaces the use cases need from the outside world.

Adapters under services/<system>/ implement them; app.py picks the concrete ones; tests pass
adapters pointed at local fake servers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""


@dataclass(frozen=True)
class EmailMessage:
    to: tuple[Recipient, ...]
    subject: str
    html: str
    text: str
    cc: tuple[Recipient, ...] = ()
    # Further RFC 5322 header fields, e.g. List-Unsubscribe (the mailer sends MIME, which carries
    # any header; Graph's JSON format takes only x- headers).
    headers: tuple[tuple[str, str], ...] = ()
    # The outbox row's idempotency key: the Message-ID is made from it, so a send repeated after a
    # crash (sendMail has no idempotency key) carries the same Message-ID as the first.
    key: str = ""


class Mailer(Protocol):
    async def send_mail(self, message: EmailMessage) -> None: ...


class SmsSender(Protocol):
    async def send_sms(self, to: str, text: str, *, idempotency_key: str) -> str:
        """Send one SMS to an E.164 number; returns the provider's message id."""
        ...


@dataclass(frozen=True)
class MeetingRequest:
    external_id: str  # the incident id: makes createOrGet idempotent
    subject: str
    body_html: str
    start: datetime
    end: datetime
    attendees: tuple[Recipient, ...] = ()


@dataclass(frozen=True)
class Meeting:
    id: str
    join_url: str
    dial_in: str | None = None  # e.g. "+1 555 0100,,123456789#"
    conference_id: str | None = None
    passcode: str | None = None


class Conferencing(Protocol):
    async def create_meeting(self, request: MeetingRequest) -> Meeting: ...

    async def invite(self, meeting: Meeting, attendees: tuple[Recipient, ...]) -> None: ...


@dataclass(frozen=True)
class CallTarget:
    aad_object_id: str
    name: str = ""


class Calling(Protocol):
    async def ring(self, *, subject: str, targets: tuple[CallTarget, ...], callback_uri: str,
                   tenant_id: str) -> str:
        """Start a group call that rings the targets; returns the Graph call id."""
        ...


@dataclass(frozen=True)
class TicketRequest:
    subject: str
    description_html: str
    priority: int  # Freshdesk 1 (low) .. 4 (urgent)
    status: int  # Freshdesk 2 open, 3 pending, 4 resolved, 5 closed
    tags: tuple[str, ...]
    requester_email: str
    custom_fields: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    id: int
    url: str


class Ticketing(Protocol):
    async def create_ticket(self, request: TicketRequest) -> Ticket: ...

    async def update_ticket(self, ticket_id: int, *, priority: int | None = None,
                            status: int | None = None) -> None: ...

    async def add_note(self, ticket_id: int, body_html: str, *, private: bool) -> None: ...
