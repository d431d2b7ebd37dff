"""Outbox rows and timeline entries of the bridge, written in the caller's transaction.

Ordering keys: Graph work on the meeting (create, invite) shares `incident:<id>:bridge`, so an
invitation waits for the meeting, but a slow or failing Graph never holds back the incident's
Teams posts (`incident:<id>:teams`, the key the core uses). Calls have their own key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.incidents import Person, TimelineEvent
from services.store.uow import UnitOfWork

CREATE = "bridge.create"
INVITE = "bridge.invite"
RING = "bridge.ring"
THREAD_CARD = "bridge.thread_card"


def bridge_order(incident_id: int) -> str:
    return f"incident:{incident_id}:bridge"


def teams_order(incident_id: int) -> str:
    return f"incident:{incident_id}:teams"


def calls_order(incident_id: int) -> str:
    return f"incident:{incident_id}:calls"


async def queue(uow: UnitOfWork, kind: str, incident_id: int, key: str, payload: dict[str, Any],
                now: datetime, *, ordering: str) -> bool:
    return await uow.enqueue(kind, {"incident_id": incident_id, **payload},
                             key=f"incident:{incident_id}:bridge:{key}", incident_id=incident_id,
                             ordering_key=ordering, now=now)


async def refresh_card(uow: UnitOfWork, incident_id: int, key: str, now: datetime) -> None:
    """The incident card in the thread root shows the bridge; redraw it for everyone."""
    await queue(uow, "teams.update_card", incident_id, f"card:{key}",
                {"description": f"INC-{incident_id} card update (bridge)"}, now, ordering=teams_order(incident_id))


async def thread_card(uow: UnitOfWork, incident_id: int, card: str, key: str, now: datetime,
                      **payload: Any) -> None:
    """A bridge card as a reply in the incident thread (the Join card, a failure with its fix)."""
    await queue(uow, THREAD_CARD, incident_id, f"thread:{key}",
                {"card": card, "description": f"INC-{incident_id} bridge {card} card", **payload}, now,
                ordering=teams_order(incident_id))


async def thread_note(uow: UnitOfWork, incident_id: int, text: str, key: str, now: datetime) -> None:
    await queue(uow, "teams.thread_note", incident_id, f"note:{key}",
                {"text": text, "description": f"INC-{incident_id} thread note (bridge)"}, now,
                ordering=teams_order(incident_id))


async def record(uow: UnitOfWork, incident_id: int, kind: str, summary: str, now: datetime, *,
                 actor: Person | None = None, after: dict[str, Any] | None = None) -> None:
    """A timeline entry at the incident's current version: bridge steps change no incident field,
    so they never make someone's card stale."""
    incident = await uow.get_incident(incident_id)
    version = incident.version if incident else 0
    await uow.record_event(incident_id, TimelineEvent(kind, now, actor, summary, after=after), version)
