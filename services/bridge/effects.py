"""The bridge's outbox effects, and the rows and timeline entries it writes in the caller's
transaction.

Ordering keys (services.effects.ordering): Graph work on the meeting (create, invite) shares the
incident's bridge key, so an invitation waits for the meeting, but a slow or failing Graph never
holds back the incident's Teams posts. Calls have their own key. Idempotency keys are
`incident:<id>:bridge:<tag>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.effects import KEY_ONLY, Channel, OutboxEffect, ordering
from services.effects.teams import ThreadNote, UpdateCard
from services.incidents import Person, TimelineEvent
from services.store.uow import UnitOfWork


class _BridgeEffect(OutboxEffect):
    incident_id: int
    tag: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:bridge:{self.tag}"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_bridge(self.incident_id)


@dataclass(frozen=True)
class CreateMeeting(_BridgeEffect):
    """The incident's Teams meeting through Graph (attempt n after a failure or a fix)."""

    kind = "bridge.create"
    channel = Channel.GRAPH
    incident_id: int
    attempt: int
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:bridge:create:{self.attempt}"


@dataclass(frozen=True)
class Invite(_BridgeEffect):
    kind = "bridge.invite"
    channel = Channel.GRAPH
    incident_id: int
    invitees: list[dict[str, Any]]
    actor: dict[str, Any]
    description: str
    tag: str = field(metadata=KEY_ONLY)


@dataclass(frozen=True)
class Ring(_BridgeEffect):
    """A Graph group call ringing responders; Graph reports it to `callback_uri`."""

    kind = "bridge.ring"
    channel = Channel.GRAPH
    incident_id: int
    targets: list[dict[str, str]]
    tenant_id: str
    callback_uri: str
    actor: dict[str, Any]
    subject: str
    description: str
    tag: str = field(metadata=KEY_ONLY)

    @property
    def ordering_key(self) -> str:
        return ordering.incident_calls(self.incident_id)


@dataclass(frozen=True)
class BridgeThreadCard(_BridgeEffect):
    """A bridge card (Join, a failure with its fix) as a reply in the incident thread."""

    kind = "bridge.thread_card"
    channel = Channel.TEAMS
    incident_id: int
    card: str
    description: str
    tag: str = field(metadata=KEY_ONLY)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ordering_key(self) -> str:
        return ordering.incident_teams(self.incident_id)

    def payload(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "card": self.card, "description": self.description, **self.details}


async def queue(uow: UnitOfWork, effect: OutboxEffect, now: datetime) -> bool:
    return await uow.outbox.add(effect, now=now)


async def refresh_card(uow: UnitOfWork, incident_id: int, key: str, now: datetime) -> None:
    """The incident card in the thread root shows the bridge; redraw it for everyone."""
    await queue(uow, UpdateCard(incident_id, f"INC-{incident_id} card update (bridge)", f"bridge:card:{key}"), now)


async def thread_card(uow: UnitOfWork, incident_id: int, card: str, key: str, now: datetime,
                      **payload: Any) -> None:
    """A bridge card as a reply in the incident thread (the Join card, a failure with its fix)."""
    await queue(uow, BridgeThreadCard(incident_id, card, f"INC-{incident_id} bridge {card} card", f"thread:{key}",
                                      payload), now)


async def thread_note(uow: UnitOfWork, incident_id: int, text: str, key: str, now: datetime) -> None:
    await queue(uow, ThreadNote(incident_id, text, f"INC-{incident_id} thread note (bridge)", f"bridge:note:{key}"),
                now)


async def record(uow: UnitOfWork, incident_id: int, kind: str, summary: str, now: datetime, *,
                 actor: Person | None = None, after: dict[str, Any] | None = None) -> None:
    """A timeline entry at the incident's current version: bridge steps change no incident field,
    so they never make someone's card stale."""
    incident = await uow.incidents.get(incident_id)
    version = incident.version if incident else 0
    await uow.timeline.record(incident_id, TimelineEvent(kind, now, actor, summary, after=after), version)
