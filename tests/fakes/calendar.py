"""A fake calendar server on loopback publishing an on-call schedule's iCalendar feed at a secret
address, as PagerDuty, Opsgenie and Google Calendar do: `text/calendar`, an ETag, 304 for a
matching If-None-Match, 404 for any other address. Faults come from FakeHttpServer."""

from __future__ import annotations

import hashlib

from aiohttp import web

from tests.fakes.freshdesk import FakeHttpServer

SECRET_PATH = "/private-3f9c2a/basic.ics"


class FakeCalendar(FakeHttpServer):
    def __init__(self, body: bytes = b"") -> None:
        super().__init__()
        self.body = body

    @property
    def feed_url(self) -> str:
        return self.url + SECRET_PATH

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(SECRET_PATH, self._feed)

    def fault_body(self, status: int) -> str:
        return f"Error {status}"

    async def _feed(self, request: web.Request) -> web.Response:
        etag = '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=self.body, headers={"ETag": etag, "Content-Type": "text/calendar; charset=utf-8"})
