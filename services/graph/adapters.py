"""Building the Graph adapters: meetings (Conferencing), email (Mailer), calls (Calling), channels.

`build_graph_adapters(GraphSettings())` is what the composition root calls; each adapter is None
with a reason when its settings are missing, so effects are recorded as "not sent".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from services.delivery import DeliveryError
from services.graph.calls import GraphCalling
from services.graph.channels import ChannelCreator, GraphChannels
from services.graph.client import GraphConnection, connect
from services.graph.mail import GraphMailer
from services.graph.meetings import EventsConferencing, link_waits
from services.graph.online_meetings import OnlineMeetingsConferencing
from services.graph.organizer import OrganizerId
from services.graph.probe import startup_problems
from services.graph.settings import Feature, GraphSettings
from services.ports import Calling, Conferencing, Mailer

log = logging.getLogger("beacon.graph")


@dataclass
class GraphAdapters:
    conferencing: Conferencing | None = None
    mailer: Mailer | None = None
    calling: Calling | None = None
    channels: ChannelCreator | None = None
    not_configured: dict[str, str] = field(default_factory=dict)  # adapter name → why it is None
    connection: GraphConnection | None = None
    settings: GraphSettings | None = None
    organizer: OrganizerId | None = None  # onlineMeetings mode: the organiser as an object id

    async def resolve_organizer(self) -> str | None:
        """GRAPH_ORGANIZER_USER_ID as an object id (onlineMeetings mode); a problem in words, else None."""
        if self.organizer is None:
            return None
        try:
            found = await self.organizer.resolve()
        except DeliveryError as error:
            return f"{error} (onlineMeetings need the organizer's object id)"
        if found != self.organizer.configured:
            log.info("GRAPH_ORGANIZER_USER_ID %s is object id %s", self.organizer.configured, found)
        return None

    async def start(self) -> None:
        """At start-up: resolve the organizer once, so the first bridge does not wait for it."""
        problem = await self.resolve_organizer()
        if problem:
            log.warning("%s; Beacon tries again at the first bridge", problem)

    def report(self) -> list[str]:
        """One line per missing adapter, for the start-up log."""
        return [f"Graph {name} not configured: {reason}" for name, reason in self.not_configured.items()]

    async def check(self) -> list[str]:
        """report() plus what Graph itself says: token accepted, organizer and sender mailboxes exist."""
        if self.connection is None or self.settings is None:
            return self.report()
        problems = self.report() + await startup_problems(self.connection.client, self.settings)
        organizer = await self.resolve_organizer()
        return problems + ([organizer] if organizer else [])

    async def app_token(self) -> str:
        """Beacon's own app-only Graph token (for the doctor to read its claims)."""
        if self.settings is None or self.connection is None:
            return ""
        static = self.settings.access_token.get_secret_value()
        if static or self.connection.credential is None:
            return static
        return (await self.connection.credential.get_token(self.settings.scope)).token

    async def aclose(self) -> None:
        if self.connection is not None:
            await self.connection.aclose()


def _reason(settings: GraphSettings, feature: Feature | None = None) -> str:
    return "; ".join(settings.missing(feature))


def build_graph_adapters(settings: GraphSettings) -> GraphAdapters:
    if not settings.configured:
        reason = _reason(settings)
        names = ("conferencing", "mailer", "calling", "channels")
        return GraphAdapters(not_configured={name: reason for name in names})
    connection = connect(settings)
    client = connection.client
    adapters = GraphAdapters(connection=connection, settings=settings, channels=GraphChannels(client))
    if settings.mail_sender:
        adapters.mailer = GraphMailer(client, settings.mail_sender)
    else:
        adapters.not_configured["mailer"] = _reason(settings, "mail")
    if settings.organizer_user_id:
        if settings.meeting_mode == "onlineMeetings":
            adapters.organizer = OrganizerId(client, settings.organizer_user_id)
        adapters.conferencing = _conferencing(settings, connection, adapters.mailer, adapters.organizer)
    else:
        adapters.not_configured["conferencing"] = _reason(settings, "conferencing")
    if settings.caller_app_id:
        adapters.calling = GraphCalling(client, settings.caller_app_id, settings.caller_display_name)
    else:
        adapters.not_configured["calling"] = _reason(settings, "calling")
    return adapters


def _conferencing(settings: GraphSettings, connection: GraphConnection,
                  mailer: Mailer | None, organizer: OrganizerId | None) -> Conferencing:
    waits = link_waits(settings.retry_backoff_seconds)
    if settings.meeting_mode == "events":
        return EventsConferencing(connection.client, settings.organizer_user_id, waits)
    # Invitations for standalone meetings are mailed; without MAIL_SENDER the organizer sends them.
    inviter = mailer or GraphMailer(connection.client, settings.organizer_user_id)
    organizer = organizer or OrganizerId(connection.client, settings.organizer_user_id)
    return OnlineMeetingsConferencing(connection.client, organizer, inviter, waits)
