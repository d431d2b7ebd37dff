"""Servers the benchmarks measure, each in its own process: Beacon, the baseline bot, the alert
intake floor, or the fake Bot Connector and the fake Twilio Beacon posts and pages through (kept
out of the load generator's process, so that their work is not counted against either bot).

    python -m bench.serve beacon    --port 3981 --database sqlite+aiosqlite:///tmp/b.db
    python -m bench.serve baseline  --port 3982
    python -m bench.serve floor     --port 3983 --database sqlite+aiosqlite:///tmp/f.db
    python -m bench.serve connector --port 3984
    python -m bench.serve sms       --port 3985

The baseline is the smallest bot on the same stack (botbuilder CloudAdapter on aiohttp and the
same event loop, on loopback) that answers an Action.Execute invoke with a static card. It carries only the
documented workaround for the SDK's invoke serialization bug, without which it would answer 500.

The floor is the least an alert endpoint can do and still keep every alert it acknowledges: check
the bearer token, parse the JSON body, insert it as one row, and answer only once the transaction
holding that row has committed. It batches posts as Beacon's alert intake does, with the same
GroupCommit (services/store/group_commit.py), batch size and retry rule: posts that arrive while
one transaction runs are inserted together in the next, one multi-row insert and one commit per
batch, so Beacon's group commit is not measured against a commit per post. It goes through
SQLAlchemy's async engine made by Beacon's own `create_engine`, so it has the same driver
(aiosqlite or asyncpg), pool size and SQLite pragmas (WAL, busy timeout, the in-process queue for
the write lock): the ratio to it is Beacon's own work, not a different driver, pool or batching.
It uses Core, not the ORM, since a raw endpoint would.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def baseline_app() -> web.Application:
    from botbuilder.core import InvokeResponse, TurnContext, serializer_helper
    from botbuilder.core.teams import TeamsActivityHandler
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import Activity
    from msrest.serialization import Model

    class Config:
        APP_ID = ""
        APP_PASSWORD = ""

    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Done"}]}

    class StaticBot(TeamsActivityHandler):
        async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
            body = {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card}
            return InvokeResponse(status=200, body=body)

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = StaticBot()

    async def messages(request: web.Request) -> web.Response:
        activity = Activity().deserialize(await request.json())
        response = await adapter.process_activity(request.headers.get("Authorization", ""), activity, bot.on_turn)
        if response is None:
            return web.Response(status=201)
        body = serializer_helper(response.body) if isinstance(response.body, Model) else response.body
        return web.json_response(body, status=response.status)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    return app


def floor_app(database: str) -> web.Application:
    import hmac
    import json
    from datetime import UTC, datetime

    from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table

    from services.intake.alerts import MAX_POSTS_PER_TRANSACTION
    from services.store.db import create_engine, database_unavailable
    from services.store.group_commit import GroupCommit

    metadata = MetaData()
    alerts = Table("floor_alerts", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                   Column("received_at", DateTime(timezone=True), nullable=False),
                   Column("fingerprint", String(500), nullable=False), Column("body", JSON, nullable=False))
    engine = create_engine(database)
    expected = ("Bearer " + os.environ.get("ALERTS_WEBHOOK_TOKEN", "")).encode()
    # Beacon's alert intake batches posts so (services/intake/alerts.py): the same class, size and retry rule.
    commits = GroupCommit[dict[str, Any], int](MAX_POSTS_PER_TRANSACTION,
                                               alone_after=lambda error: not database_unavailable(error))

    async def insert(rows: list[dict[str, Any]]) -> list[int]:
        async with engine.begin() as connection:
            await connection.execute(alerts.insert(), rows)
        return [len(row["body"]["alerts"]) for row in rows]

    async def receive(request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        try:
            body = json.loads(await request.read())
            fingerprint = str(body["alerts"][0].get("fingerprint") or "")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return web.json_response({"error": "not an Alertmanager webhook"}, status=400)
        row = {"received_at": datetime.now(UTC), "fingerprint": fingerprint, "body": body}
        return web.json_response({"received": await commits.submit(row, insert)})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/api/alerts/alertmanager", receive)
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(lifecycle)
    return app


BENCH_RESPONDERS = 100  # the most responders bench.card_actions can ask for
BENCH_POSTS = "/bench/posts"  # the fake Bot Connector's record, read back by the benchmarks


def connector_app() -> web.Application:
    """The tests' fake Bot Connector (tests/fakes/connector.py), served on a fixed port; GET
    /bench/posts reads back what it received, GET /bench/replies counts the bot's answers."""
    import json

    from tests.fakes.connector import FakeConnector
    from tests.teams_activities import Person, Users

    fake = FakeConnector()
    # The team Beacon reads at install: the declarer and the benchmark's responders (bench.card_actions).
    for person in (Users.ALICE, *(Person.named(f"Responder {n:02d}") for n in range(BENCH_RESPONDERS))):
        fake.add_member(person)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def posts(request: web.Request) -> web.Response:
        """What arrived, for the benchmark to read back: how many requests, and each post with the
        moment its request reached this fake (bench.alert_storm times the first post per incident)."""
        return web.json_response({"requests": len(fake.requests), "posts": [
            {"id": m.id, "conversation_id": m.conversation_id, "kind": m.kind,
             "received_at": m.received_at.isoformat() if m.received_at else None} for m in fake.posted()]})

    async def replies(request: web.Request) -> web.Response:
        """How many messages the bot has posted here whose cards contain `?containing=` (bench.metrics
        checks that each answer had arrived when /api/messages answered)."""
        containing = request.query.get("containing", "")
        return web.json_response({"count": sum(containing in json.dumps(m.cards) for m in fake.posted())})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get(BENCH_POSTS, posts)  # not Bot Connector routes: only the benchmarks ask them
    app.router.add_get("/bench/replies", replies)
    app.router.add_route("*", "/{tail:.*}", fake._handle)
    return app


BENCH_SMS = "/bench/sms"  # the fake Twilio's record, read back by the benchmarks


def sms_app() -> web.Application:
    """The tests' fake Twilio (tests/fakes/sms.py), served on a fixed port with its test
    credentials (bench.alert_storm gives Beacon the same); GET /bench/sms reads back what it accepted.
    It answers each message at once, as Twilio's API does, which queues messages and sends them at
    the sender's own rate later: what is timed is Twilio accepting a page, not a phone receiving it."""
    from tests.fakes.sms import FakeTwilio

    fake = FakeTwilio()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def sent(request: web.Request) -> web.Response:
        """What the fake accepted: each message with its text and when the fake accepted it."""
        return web.json_response({"requests": len(fake.requests), "messages": [
            {"sid": m.message_id, "to": m.to, "text": m.text, "received_at": m.received_at.isoformat()}
            for m in fake.sent]})

    bench_routes = {"/healthz", BENCH_SMS}  # not Twilio's: no Basic auth, not recorded as requests

    @web.middleware
    async def as_twilio(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in bench_routes:
            return await handler(request)
        return await fake._middleware(request, handler)  # Twilio's auth check and the request record

    app = web.Application(middlewares=[as_twilio])
    app.router.add_get("/healthz", healthz)
    app.router.add_get(BENCH_SMS, sent)
    fake.add_routes(app)
    return app


def beacon_app(database: str) -> web.Application:
    from app import create_app
    from services.settings import Settings

    return create_app(Settings(database_url=database, outbox_idle_poll_seconds=1.0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["beacon", "baseline", "floor", "connector", "sms"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", default="sqlite+aiosqlite:///bench-beacon.db")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    apps = {"beacon": lambda: beacon_app(args.database), "baseline": baseline_app,
            "floor": lambda: floor_app(args.database), "connector": connector_app, "sms": sms_app}
    app = apps[args.which]()
    # Every server runs on the loop Beacon's own main() picks (uvloop where installed): the same stack.
    from services.event_loop import event_loop

    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, loop=event_loop())


if __name__ == "__main__":
    main()
