"""The local playground: GET /playground plays Teams for someone with no tenant.

Only served when MicrosoftAppId is empty (otherwise every route here is a 404): the page sends
real Teams activities and invokes to /api/messages, unauthenticated as the Emulator does, with
a serviceUrl pointing at the connector below, so Beacon's replies come back through the same
Bot Connector calls it makes in Teams. Cards are drawn by the official Adaptive Cards renderer
(npm package `adaptivecards`, installed by `npm ci --prefix bot/playground`).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.playground.connector import PlaygroundConnector
from services.settings import Settings

HERE = Path(__file__).parent
STATIC = HERE / "static"
RENDERER = HERE / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
INSTALL_STEP = "npm ci --prefix bot/playground"
CONNECTOR = web.AppKey("playground_connector", PlaygroundConnector)
LONG_POLL_SECONDS = 15.0


def renderer_installed() -> bool:
    return RENDERER.is_file()


def add_playground(app: web.Application, settings: Settings) -> PlaygroundConnector | None:
    """Register the playground's routes when this Beacon runs without a bot registration."""
    if settings.app_id:
        return None
    connector = PlaygroundConnector()
    app[CONNECTOR] = connector

    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def renderer(request: web.Request) -> web.StreamResponse:
        if not renderer_installed():
            return web.json_response({"error": f"the Adaptive Cards renderer is not installed: run "
                                               f"`{INSTALL_STEP}` and reload"}, status=503)
        return web.FileResponse(RENDERER)

    async def feed(request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return web.json_response({"error": "since must be a number"}, status=400)
        if request.query.get("wait") and connector.feed(since)["seq"] <= since:
            await connector.wait_for_change(LONG_POLL_SECONDS)
        return web.json_response(connector.feed(since))

    app.router.add_get("/playground", page)
    app.router.add_get("/playground/", page)
    app.router.add_get("/playground/vendor/adaptivecards.min.js", renderer)
    app.router.add_get("/playground/feed", feed)
    app.router.add_static("/playground/static/", STATIC)
    app.router.add_route("*", "/playground/connector/{tail:.*}", connector.handle)
    return connector
