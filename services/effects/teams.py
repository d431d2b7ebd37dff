"""The core's Teams effects: the incident thread's root card, its redraws, replies and notes, the
stakeholder channel's thread, and learning the names of people picked by id.

Their idempotency keys are `incident:<id>:<tag>`, where the tag names the message (`root`,
`card:v7`, `update:responders:3`, `intake:card:post:9c41d2e07a3b-12`, …); they share the incident's Teams
ordering key, so the root card goes out first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.effects import ordering
from services.effects.base import KEY_ONLY, Channel, OutboxEffect


class _InThread(OutboxEffect):
    incident_id: int
    tag: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:{self.tag}"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_teams(self.incident_id)


@dataclass(frozen=True)
class PostCard(_InThread):
    """The incident card as the root of a new thread (or a message in a chat)."""

    kind = "teams.post_card"
    channel = Channel.TEAMS
    incident_id: int
    target: Mapping[str, str]
    description: str
    tag: str = field(default="root", metadata=KEY_ONLY)


@dataclass(frozen=True)
class UpdateCard(_InThread):
    """Redraw the root card for everyone; it renders the incident as it is at delivery."""

    kind = "teams.update_card"
    channel = Channel.TEAMS
    shows_current_state = True
    incident_id: int
    description: str
    tag: str = field(metadata=KEY_ONLY)


@dataclass(frozen=True)
class ThreadNote(_InThread):
    """One line of text as a reply in the incident thread."""

    kind = "teams.thread_note"
    channel = Channel.TEAMS
    incident_id: int
    text: str
    description: str
    tag: str = field(metadata=KEY_ONLY)


@dataclass(frozen=True)
class ThreadCard(_InThread):
    """A reminder, a status update or a notice as a reply in the thread; `details` are the card's
    own fields, stored beside `card`."""

    kind = "teams.thread_card"
    channel = Channel.TEAMS
    incident_id: int
    card: str
    description: str
    tag: str = field(metadata=KEY_ONLY)
    details: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "card": self.card, **self.details, "description": self.description}


@dataclass(frozen=True)
class StakeholderPost(_InThread):
    """A post in the incident's thread in the stakeholder channel (the first one starts it).
    `endpoint` is the Teams service URL and tenant to start it with, when Beacon knows no other."""

    kind = "teams.stakeholder_post"
    channel = Channel.TEAMS
    incident_id: int
    channel_id: str
    card: str
    text: str
    endpoint: Mapping[str, str]
    description: str
    tag: str = field(metadata=KEY_ONLY)
    message: Mapping[str, Any] = field(default_factory=dict)  # the stakeholders' message (comms.messages)

    def payload(self) -> dict[str, Any]:
        stored = super().payload()
        if not self.message:  # as rows were before messages had one template per audience
            stored.pop("message")
        return stored

    @property
    def ordering_key(self) -> str:
        return ordering.incident_stakeholders(self.incident_id)


@dataclass(frozen=True)
class ResolvePeople(_InThread):
    """Ask Teams for the names of people chosen by their AAD id, then redraw the card."""

    kind = "teams.resolve_people"
    channel = Channel.TEAMS
    incident_id: int
    ids: list[str]
    description: str
    tag: str = field(metadata=KEY_ONLY)


@dataclass(frozen=True)
class ThreadMention(_InThread):
    """A new reply in the incident thread that @mentions people (`people`: [name, Teams or AAD id]),
    because Teams notifies a mention only in a new message, never in an edited card. With
    `personal_if_absent`, each mentioned person who is not a member of the channel also gets the
    text as a personal message from Beacon."""

    kind = "teams.thread_mention"
    channel = Channel.TEAMS
    incident_id: int
    text: str
    people: list[list[str]]
    description: str
    tag: str = field(metadata=KEY_ONLY)
    personal_if_absent: bool = False


@dataclass(frozen=True)
class ReplaceForm(_InThread):
    """Replace a used declare form for everyone with what became of it ("Declared as INC-4 by …");
    after the incident's root card (same ordering key), so it can link to the thread."""

    kind = "teams.replace_form"
    channel = Channel.TEAMS
    incident_id: int
    service_url: str
    conversation_id: str
    activity_id: str
    tenant_id: str
    text: str
    description: str
    tag: str = field(metadata=KEY_ONLY)


@dataclass(frozen=True)
class ThreadCatchUp(_InThread):
    """One reply saying what changed since `since` while Teams was unreachable. Never queued by a
    use case: the first stale thread post becomes this (services/comms/catch_up.py), keeping its
    row, its keys and its place in the incident's order."""

    kind = "teams.thread_catch_up"
    channel = Channel.TEAMS
    incident_id: int
    since: str  # ISO 8601: when the first post it replaces was queued
    description: str
    tag: str = field(default="catch-up", metadata=KEY_ONLY)
