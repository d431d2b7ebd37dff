"""What the composition root hands each integration so it can plug itself in: outbox handlers,
card verbs, HTTP routes, incident observers and card extras, plus start-up notes and closers."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.adapter import BeaconAdapter
from bot.card_actions import CardActions
from services.background import StartupTask
from services.comms.confirm import EMAIL, SMS
from services.comms.delivery import email_handler, sms_handler
from services.deps import Deps
from services.effects import OutboxEffect
from services.delivery import NotConfigured
from services.effects.messages import SendEmail, SendSms
from services.effects.roster import CheckChannelKinds
from services.graph import GraphSettings
from services.notify.sms.factory import build_sms_sender
from services.notify.sms.settings import SmsSettings
from services.outbox import Effect, EffectHandler
from services.settings import Settings

log = logging.getLogger("beacon")


def link_signing(settings: Settings, secret: str, secret_name: str, what: str,
                 notes: list[str]) -> tuple[str, str]:
    """The secret and public address of Beacon's signed links (`what`: "report links", …).
    Without a configured secret, a random per-process one: fine for one local process only, which
    the start-up notes say."""
    if not secret:
        secret = secrets.token_hex(32)
        replicas = (" DATABASE_URL is PostgreSQL, where several replicas can run: set it (the same on every "
                    "replica), `python app.py doctor` fails until it is") if settings.can_run_replicas else ""
        notes.append(f"{secret_name} not set: {what} are signed with a random per-process secret, so they "
                     f"stop working when Beacon restarts and only the replica that made one accepts it.{replicas}")
    base = settings.public_url or f"http://localhost:{settings.port}"
    if not settings.public_url:
        notes.append(f"BEACON_PUBLIC_URL not set: {what} point at {base}")
    return secret, base


@dataclass
class OutsideSettings:
    """Settings of the outside systems; tests point them at local fakes."""

    graph: GraphSettings | None = None
    sms: SmsSettings | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # settings objects of later integrations


@dataclass
class Wiring:
    settings: Settings
    outside: OutsideSettings
    deps: Deps
    adapter: BeaconAdapter
    card_actions: CardActions
    app: web.Application
    handlers: dict[type[OutboxEffect] | str, EffectHandler] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Background loops (services.background.BackgroundLoop) an integration runs while Beacon serves:
    # started after the migrations, stopped before the closers run.
    runners: list[Any] = field(default_factory=list)
    not_configured: list[str] = field(default_factory=list)
    graph: Any = None  # services.graph.adapters.GraphAdapters, loaded only when Graph is configured
    bot: Any = None  # bot.handler.BeaconBot: integrations register their text commands on it
    poster: Any = None  # bot.poster.TeamsPoster: integrations reply in incident threads through it
    sms: Any = None  # services.notify.sms.SmsAdapter, or None when SMS is not configured

    def report_not_configured(self) -> None:
        """Missing outside systems are reported once at start-up; their effects say "not sent"."""
        for line in self.not_configured:
            log.warning("%s", line)


Wire = Callable[[Wiring], None]


def wire_graph_and_sms(wiring: Wiring) -> None:
    """Email through Graph sendMail and SMS through the configured provider."""
    settings = wiring.outside.graph or GraphSettings()
    if not settings.configured:
        wiring.not_configured.append(f"Microsoft Graph not configured (no email, meetings or calls): "
                                     f"{'; '.join(settings.missing())}")
        wiring.deps.unavailable[EMAIL] = "email is not set up (Microsoft Graph settings)"
        wiring.handlers[SendEmail] = email_handler(None)
        wiring.handlers[CheckChannelKinds] = _not_configured("Microsoft Graph (channel kinds)")
    else:
        from services.graph.adapters import build_graph_adapters

        graph = build_graph_adapters(settings)
        wiring.graph = graph
        wiring.closers.append(graph.aclose)
        if graph.organizer is not None:
            wiring.runners.append(StartupTask("graph organizer", graph.start))
        if graph.connection is not None:
            job = _channel_kinds_job(wiring, graph.connection.client)
            wiring.runners.append(StartupTask("channel kinds", lambda: job("")))  # every team
            # after an install: that team's channels only (start-up and the doctor check every team)
            wiring.handlers[CheckChannelKinds] = lambda effect: job(str(effect.payload["team_id"]))
        wiring.not_configured += graph.report()
        wiring.handlers[SendEmail] = email_handler(graph.mailer)
    sender, reason = build_sms_sender(wiring.outside.sms or SmsSettings())
    if sender is None:
        wiring.not_configured.append(f"SMS not configured: {reason}")
        wiring.deps.unavailable[SMS] = "SMS is not set up"
    else:
        wiring.closers.append(sender.aclose)
    wiring.sms = sender
    wiring.handlers[SendSms] = sms_handler(sender)


def _not_configured(system: str) -> EffectHandler:
    async def handler(effect: Effect) -> None:
        raise NotConfigured(system)
    return handler


def _channel_kinds_job(wiring: Wiring, client: Any) -> Callable[[str], Awaitable[None]]:
    """At start-up (every team, "") and after an install (that team): a configured private or
    shared channel, where Teams refuses Beacon's cards, is named in the log with the fix
    (services/channel_kinds.py)."""
    from services.channel_kinds import report_channel_kinds
    from services.graph.channel_kind import channel_kind

    async def kind_of(group_id: str, channel_id: str) -> str:
        return await channel_kind(client, group_id, channel_id)

    async def job(team_id: str) -> None:
        await report_channel_kinds(wiring.deps, kind_of, team_id)
    return job
