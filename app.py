"""Beacon's composition root: settings → store → integrations → services → bot → aiohttp routes.

`python app.py` serves on http://localhost:3978 with SQLite and no cloud credentials.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot.adapter import BeaconAdapter
from bot.bridge import wire_bridge
from bot.channels import wire_channels
from bot.card_ledger import CardLedger
from bot.feeds import wire_feeds
from bot.handler import BeaconBot
from bot.installs import wire_installs
from bot.intake import wire_intake
from bot.oncall import wire_oncall
from bot.paging import wire_paging
from bot.playground import add_playground
from bot.poster import TeamsPoster
from bot.review import wire_review
from bot.status_page import wire_status_page
from bot.voice import wire_voice
from bot.wiring import OutsideSettings, Wire, Wiring, wire_graph_and_sms
from services.clock import Clock, SystemClock
from services.config import BeaconConfig, ConfigError, load_config
from services.deps import Deps
from services.effects import Channel, OutboxEffect
from services.event_loop import event_loop
from services.installs import report_channels
from services.logs import bind_incident_handlers, setup_logging
from services.metrics import render as render_metrics
from services.outbox import EffectHandler, OutboxPolicy, OutboxWorker
from services.scheduler.worker import Scheduler
from services.settings import Settings, SettingsError
from services.store.db import create_engine, database_unavailable, migrate, migrations_applied, session_factory
from services.store.outbox import ExpressLane
from services.store.uow import UnitOfWork
from services.telemetry import configure_telemetry
from services.tracing import traced_requests
from services.warm import start_warm_up

log = logging.getLogger("beacon")


DEPS = web.AppKey("deps", Deps)
WORKER = web.AppKey("worker", OutboxWorker)
SCHEDULER = web.AppKey("scheduler", Scheduler)


@dataclass
class Overrides:
    """What a test swaps: the clock, the process config, extra effect handlers."""

    clock: Clock | None = None
    config: BeaconConfig | None = None
    outside: OutsideSettings = field(default_factory=OutsideSettings)
    handlers: dict[type[OutboxEffect] | str, EffectHandler] = field(default_factory=dict)
    start_worker: bool = True


# Each integration plugs itself in here (outbox handlers, card verbs, routes, observers).
INTEGRATIONS: list[Wire] = [wire_graph_and_sms, wire_channels, wire_paging, wire_voice, wire_feeds, wire_oncall,
                             wire_bridge, wire_review, wire_intake, wire_status_page]


def create_app(settings: Settings, overrides: Overrides | None = None) -> web.Application:
    overrides = overrides or Overrides()
    config = overrides.config or load_config(settings.config_path)
    clock = overrides.clock or SystemClock()
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    app = web.Application(client_max_size=1024 * 1024, middlewares=[traced_requests, database_outage])
    background: dict[str, OutboxWorker | Scheduler] = {}

    def waking(name: str) -> Callable[[], None]:  # something was queued, or a timer moved
        return lambda: background[name].wake() if name in background else None

    express = ExpressLane()  # pages go to this process's outbox worker as they commit
    deps = Deps(uow=lambda: UnitOfWork(sessions, on_outbox=waking("outbox"), on_timers=waking("scheduler"),
                                       express=express), config=config, clock=clock)
    adapter = BeaconAdapter(settings)
    adapter.ledger = CardLedger(deps)
    bot = BeaconBot(deps)
    poster = TeamsPoster(adapter, deps, catch_up_after=settings.teams_catch_up_after,
                         limits=settings.teams_conversation_limits)
    wiring = Wiring(settings, overrides.outside, deps, adapter, bot.card_actions, app, handlers=dict(poster.handlers()))
    wiring.bot, wiring.poster = bot, poster
    wire_installs(wiring)
    for wire in INTEGRATIONS:
        wire(wiring)
    handlers = bind_incident_handlers({**wiring.handlers, **overrides.handlers})
    policy = OutboxPolicy(max_attempts=settings.outbox_max_attempts,
                          horizons={Channel.TEAMS: settings.teams_retry_horizon},
                          base_backoff=settings.outbox_base_backoff_seconds,
                          idle_poll=settings.outbox_idle_poll_seconds,
                          concurrency=settings.outbox_concurrency,
                          rate_limits={Channel.TEAMS: settings.teams_requests_per_second})
    worker = OutboxWorker(sessions, handlers, clock, policy)
    express.worker = worker
    scheduler = Scheduler(deps.uow, config, clock, idle_poll=settings.scheduler_idle_poll_seconds,
                          feeds=lambda schedule: deps.shift_feeds(schedule), status_url=deps.status_url)
    background.update(outbox=worker, scheduler=scheduler)
    app[DEPS], app[WORKER], app[SCHEDULER] = deps, worker, scheduler

    async def messages(request: web.Request) -> web.Response:
        return await adapter.handle(request, bot)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        try:
            async with engine.connect() as connection:
                await asyncio.wait_for(connection.execute(text("SELECT 1")), timeout=3)
            if not await migrations_applied(engine):
                return web.json_response({"status": "migrations pending"}, status=503)
        except Exception as error:
            return web.json_response({"status": "database unreachable", "error": str(error)[:200]},
                                     status=503)
        return web.json_response({"status": "ready"})

    async def metrics(request: web.Request) -> web.Response:
        async with deps.uow() as uow:
            body = await render_metrics(uow, deps.clock.now())
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await migrate(engine)
        start_warm_up(graph=wiring.graph is not None)
        wiring.report_not_configured()
        await report_channels(deps)
        runners = [worker, scheduler, *wiring.runners]
        tasks = [asyncio.create_task(runner.run()) for runner in runners] if overrides.start_worker else []
        yield
        # Let deliveries in flight finish (a cancelled one would stay leased until its lease
        # expires, holding back that incident's later posts); then stop waiting.
        for runner in runners:
            runner.stop()
        _, pending = await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds) if tasks else ((), ())
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for close in wiring.closers:
            await close()
        await engine.dispose()

    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    add_playground(app, settings)  # only without MicrosoftAppId
    app.cleanup_ctx.append(lifecycle)
    return app


DATABASE_AWAY = "Beacon's database is unavailable right now; nothing was changed. Try again shortly."


@web.middleware
async def database_outage(request: web.Request, handler: Any) -> web.StreamResponse:
    """While the database is away every request that needs it gets 503 with Retry-After (monitoring
    and Teams retry those), never a 500 or a hang; nothing half-done is kept."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as error:
        if not database_unavailable(error):
            raise
        log.warning("%s %s: database unavailable: %s", request.method, request.path, error)
        return web.json_response({"error": DATABASE_AWAY}, status=503, headers={"Retry-After": "5"})


def report_unconfigured(settings: Settings) -> None:
    if not settings.app_id:
        log.warning("MicrosoftAppId is empty: accepting unauthenticated requests only (Emulator mode)")
    elif settings.bot_app_type == "MultiTenant":
        log.warning("MicrosoftAppType is MultiTenant: Azure no longer creates multi-tenant bots; a new "
                    "registration is SingleTenant (with MicrosoftAppTenantId) or UserAssignedMSI")


def main(argv: list[str]) -> int:
    settings = Settings()
    if argv[:1] == ["doctor"]:
        from services import doctor

        return doctor.main(settings)
    setup_logging(settings)
    configure_telemetry()
    try:
        app = create_app(settings)
    except ConfigError as error:
        print(f"Beacon cannot start: the configuration is invalid.\n{error}", file=sys.stderr)
        return 2
    except SettingsError as error:
        print(f"Beacon cannot start: {error}.", file=sys.stderr)
        return 2
    report_unconfigured(settings)
    loop = event_loop()
    web.run_app(app, host=settings.host, port=settings.port, loop=loop, print=lambda *_: log.info(
        "Beacon listening on http://%s:%s (%s event loop)", settings.host, settings.port,
        "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
