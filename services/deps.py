"""What every use case is given: the unit of work, the process config, the clock, and what the
integrations add to the core (observers that follow incidents, and the incident card's extras).
Built once by the composition root (app.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.clock import Clock
from services.config import BeaconConfig
from services.incidents import Incident, TimelineEvent
from services.paging.directory import FeedShifts, no_feeds
from services.store.uow import UnitOfWork


@dataclass(frozen=True)
class ThreadTarget:
    """Where an incident's card goes: a team channel (new thread) or an existing chat."""

    service_url: str
    tenant_id: str = ""
    channel_id: str = ""
    conversation_id: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"service_url": self.service_url, "tenant_id": self.tenant_id,
                "channel_id": self.channel_id, "conversation_id": self.conversation_id}


class IncidentObserver(Protocol):
    """An integration that follows incidents (e.g. a ticketing system), writing outbox rows in the
    same transaction as the change it reacts to."""

    async def on_declared(self, uow: UnitOfWork, incident: Incident, now: datetime) -> None: ...

    async def on_changed(self, uow: UnitOfWork, incident: Incident, events: list[TimelineEvent],
                         now: datetime) -> None: ...


@dataclass
class Deps:
    uow: Callable[[], UnitOfWork]
    config: BeaconConfig
    clock: Clock
    observers: list[IncidentObserver] = field(default_factory=list)
    # bot.views.ExtrasProvider callables: what integrations add to the incident card
    view_extras: list[Any] = field(default_factory=list)
    # The cached shifts of schedules fed by an iCalendar URL (None: the rotation applies).
    shift_feeds: FeedShifts = no_feeds
    # A client's status-page link, signed for its current generation (bot.status_page), for what
    # Beacon writes to the client's people; None while status pages are not wired.
    client_status_link: Callable[[UnitOfWork, str, datetime], Awaitable[str]] | None = None
    # Routes whose outside system is not set up ("email", "sms", "freshdesk": services.comms.confirm)
    # and why, for the confirmation the poster of a stakeholder update gets.
    unavailable: dict[str, str] = field(default_factory=dict)

    async def status_url(self, uow: UnitOfWork, incident: Incident, now: datetime) -> str:
        """The link to the status page of the incident's client, for the emails to the client's
        people; "" for an incident of no client in BEACON_CONFIG, a drill, or without status pages."""
        client = self.config.client(incident.client) if incident.client else None
        if client is None or incident.drill or self.client_status_link is None:
            return ""
        return await self.client_status_link(uow, client.name, now)
