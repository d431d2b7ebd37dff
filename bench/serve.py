"""Servers the benchmarks measure, each in its own process: Beacon, or the baseline bot.

    python -m bench.serve beacon   --port 3981 --database sqlite+aiosqlite:///tmp/b.db
    python -m bench.serve baseline --port 3982

The baseline is the smallest bot on the same stack (botbuilder CloudAdapter on aiohttp, on
loopback) that answers an Action.Execute invoke with a static card. It carries only the
documented workaround for the SDK's invoke serialization bug, without which it would answer 500.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

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


def beacon_app(database: str) -> web.Application:
    from app import create_app
    from services.settings import Settings

    return create_app(Settings(database_url=database, outbox_idle_poll_seconds=1.0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["beacon", "baseline"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", default="sqlite+aiosqlite:///bench-beacon.db")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    app = beacon_app(args.database) if args.which == "beacon" else baseline_app()
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
