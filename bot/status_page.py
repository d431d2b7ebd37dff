"""Clients' status pages: GET /status/<client> (and its Atom feed, /status/<client>/feed) behind a
signed, revocable link, with its "Email me updates" form (bot.status_subscriptions), and
`@Beacon status <client>` (or `… revoke`), which gives the client's account owner or an incident
admin the link to share."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext

from bot import context as ctx
from bot.commands import Command
from bot.status_http import HEADERS, answer, document, refused
from bot.status_subscriptions import SubscriptionRoutes, add_subscription_routes
from bot.wiring import Wiring, link_signing
from services.config import ClientEntry
from services.deps import Deps
from services.status_page.effects import SubscriberEmail, subscriber_email_handler
from services.status_page.forms import subscribe_form
from services.status_page.links import SIGNED, StatusLinks, status_path
from services.status_page.page import atom_feed, status_page, without_names
from services.status_page.subscriptions import SubscriberUpdates
from services.status_page.usecases import DAYS, LinkRefused, client_page, public_page, share_link
from services.store.uow import UnitOfWork



class StatusPages:
    def __init__(self, deps: Deps, links: StatusLinks):
        self.deps, self.links = deps, links

    def _client(self, name: str) -> ClientEntry | None:
        wanted = " ".join(name.split()).casefold()
        return next((c for c in self.deps.config.directory.clients
                     if wanted in {n.casefold() for n in (c.name, *c.aliases)}), None)

    async def _read(self, request: web.Request) -> web.Response | tuple[str, list[Any], dict[str, str]]:
        """The client, its incidents and the link's signed query; or the refusal to answer."""
        name = request.match_info["client"]
        now = self.deps.clock.now()
        query = dict(request.query)
        # The signature first: a forged link cannot tell which clients exist.
        generation = self.links.signed_generation(name, query, now)
        if generation is None:
            return refused(request)
        try:
            incidents = await client_page(self.deps, name, generation, now)
        except LinkRefused:
            return refused(request)
        if self.deps.config.client(name) is None:
            return answer(request, "No such client", f"{name} is no longer a client in BEACON_CONFIG", 404)
        return name, list(incidents), {k: query[k] for k in SIGNED}

    def _urls(self, client: str, signed: dict[str, str]) -> tuple[str, str]:
        """The page's and the feed's signed addresses."""
        base = self.links.base_url
        return base + status_path(client, query=signed), base + status_path(client, "feed", signed)

    async def page_route(self, request: web.Request) -> web.Response:
        found = await self._read(request)
        if isinstance(found, web.Response):
            return found
        client, incidents, signed = found
        page = status_page(client, incidents, self.deps.clock.now(), days=DAYS,
                           refreshing=request.query.get("refresh") == "1",
                           refresh_url=status_path(client, query={**signed, "refresh": "1"}),
                           still_url=status_path(client, query=signed), feed_url=self._urls(client, signed)[1],
                           subscribe=subscribe_form(client, status_path(client, "subscribe", signed)))
        return document(page)

    async def feed_route(self, request: web.Request) -> web.Response:
        found = await self._read(request)
        if isinstance(found, web.Response):
            return found
        client, incidents, signed = found
        page_url, feed_url = self._urls(client, signed)
        feed = atom_feed(client, incidents, self.deps.clock.now(), page_url=page_url, feed_url=feed_url)
        return document(feed, "application/atom+xml")

    async def public_route(self, request: web.Request) -> web.Response:
        """GET /status with `status.public`: every current and recent incident, no client names."""
        config = self.deps.config
        if not config.status.public:
            return web.json_response({"error": "there is no public status page (status.public in BEACON_CONFIG)"},
                                     status=404)
        now = self.deps.clock.now()
        incidents = await public_page(self.deps, now)
        names = [name for client in config.directory.clients for name in (client.name, *client.aliases)]
        page = status_page(None, incidents, now, days=DAYS, refreshing=request.query.get("refresh") == "1",
                           refresh_url="/status?refresh=1", still_url="/status", feed_url="",
                           said=without_names(names))
        headers = {k: v for k, v in HEADERS.items() if k != "X-Robots-Tag"} | {"Cache-Control": "no-cache"}
        return web.Response(text=page, content_type="text/html", charset="utf-8", headers=headers)

    async def link_for(self, uow: UnitOfWork, client: str, now: datetime) -> str:
        """The client's link as Beacon hands it out itself (in replies to the client's people)."""
        return self.links.url(client, await uow.status_pages.current(client, now, "Beacon"), now)

    async def status_command(self, turn_context: TurnContext, command: Command) -> None:
        await turn_context.send_activity(await self.answer(turn_context, command))

    async def answer(self, turn_context: TurnContext, command: Command) -> str:
        words = command.argument.split()
        revoke = bool(words) and words[-1].casefold() == "revoke"
        name = " ".join(words[:-1] if revoke else words)
        client = self._client(name) if name else None
        config = self.deps.config
        if client is None:
            known = ", ".join(c.name for c in config.directory.clients) or "none in BEACON_CONFIG"
            return f"Which client? Try “status Contoso” or “status Contoso revoke” (clients: {known})."
        person = ctx.actor(turn_context.activity)
        owner = client.account_owner
        is_owner = owner is not None and bool(owner.aad_object_id) and owner.aad_object_id == person.aad_object_id
        if not is_owner and person.aad_object_id not in config.roles.incident_admins:
            who = f" ({owner.name})" if owner else ""
            return f"Only {client.name}'s account owner{who} or an incident admin can share its status page."
        now = self.deps.clock.now()
        generation = await share_link(self.deps, client.name, person.name, now, revoke=revoke)
        url = self.links.url(client.name, generation, now)
        until = f"{now + self.links.ttl:%d %b %Y}"
        first = (f"Every earlier status link for {client.name} stops working now, and the email subscriptions "
                 "made through them end (people subscribe again on the new page). The new one"
                 if revoke else f"{client.name}'s status page")
        return (f"{first}, valid until {until}: {url}\n\nIt shows {client.name}'s current incidents and those of "
                f"the past {DAYS} days with the stakeholder updates only. Share it with {client.name}'s people; "
                f"“status {client.name} revoke” makes every link handed out so far stop working.")


def wire_status_page(wiring: Wiring) -> None:
    settings = wiring.settings
    secret, base = link_signing(settings, settings.status_link_secret, "STATUS_LINK_SECRET", "status page links",
                                wiring.not_configured)
    pages = StatusPages(wiring.deps, StatusLinks(secret, base, timedelta(days=settings.status_link_ttl_days)))
    wiring.deps.client_status_link = pages.link_for
    wiring.deps.observers.append(SubscriberUpdates(wiring.deps.config, pages.links))
    wiring.handlers[SubscriberEmail] = subscriber_email_handler(wiring.graph.mailer if wiring.graph else None)
    add_subscription_routes(wiring.app, SubscriptionRoutes(wiring.deps, pages.links,
                                                           settings.status_subscribers_per_client))
    wiring.app.router.add_get("/status", pages.public_route)
    wiring.app.router.add_get("/status/{client}", pages.page_route)
    wiring.app.router.add_get("/status/{client}/feed", pages.feed_route)
    if wiring.bot is not None:
        wiring.bot.register_command("status", pages.status_command)
