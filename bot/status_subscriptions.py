"""The email subscription of a client's status page over HTTP (services.status_page.subscriptions):
POST /status/<client>/subscribe (the page's form, behind the page's signed link), and the
confirmation and unsubscribe links emails carry: GET shows a page with one button, POST does it
(an RFC 8058 one-click POST from a mail client included). A browser (Accept: text/html) gets small
HTML pages, anything else JSON: a bad address is a 400 that says what to type, and stores nothing."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from bot.status_http import answer, ask, refused
from services.deps import Deps
from services.status_page.links import CONFIRM_TTL, SIGNED, StatusLinks, status_path, subscription_of
from services.status_page.subscribers import CONFIRMED, UNSUBSCRIBED
from services.status_page.subscriptions import Asked, Subscription, confirm, find, subscribe, unsubscribe
from services.status_page.usecases import LinkRefused

HOURS = int(CONFIRM_TTL.total_seconds() // 3600)


class SubscriptionRoutes:
    def __init__(self, deps: Deps, links: StatusLinks, cap: int):
        self.deps, self.links, self.cap = deps, links, cap

    async def subscribe_route(self, request: web.Request) -> web.Response:
        client, now = request.match_info["client"], self.deps.clock.now()
        query = dict(request.query)
        generation = self.links.signed_generation(client, query, now)
        if generation is None or self.deps.config.client(client) is None:
            return refused(request, "Nothing was saved")
        back = status_path(client, query={k: query[k] for k in SIGNED})
        form = await request.post()
        typed = str(form.get("email") or "")
        try:
            asked = await subscribe(self.deps, self.links, client, generation, typed, now, cap=self.cap)
        except LinkRefused:
            return refused(request, "Nothing was saved")
        if asked is Asked.BAD_ADDRESS:
            shown = typed.strip()[:100] or "an empty address"
            return answer(request, "That is not an email address",
                          f"“{shown}” is not an email address, so nothing was saved. Go back and type one like "
                          "name@example.com.", 400, back)
        if asked is Asked.FULL:
            return answer(request, "No more subscriptions here",
                          f"{client}'s status page has as many email subscriptions as it takes ({self.cap}), so "
                          "nothing was saved. Ask your account manager, or follow the page in a feed reader.",
                          409, back)
        if asked is Asked.BUSY:
            return answer(request, "Please try again later",
                          f"{client}'s status page has sent many confirmation emails in the past hour, so nothing "
                          "was saved. Try again in an hour.", 429, back, **{"Retry-After": "3600"})
        address = typed.strip().lower()
        return answer(request, "Check your inbox",
                      f"If {address} does not get {client}'s updates yet, we have just sent it a link to confirm. It "
                      f"works for {HOURS} hours, and nothing else is sent to the address until it is followed.",
                      back=back)

    async def _subscription(self, request: web.Request) -> Subscription | None:
        found = subscription_of(dict(request.query))
        return await find(self.deps, request.match_info["client"], found) if found is not None else None

    async def _confirmable(self, request: web.Request, now: datetime) -> Subscription | web.Response:
        subscription = await self._subscription(request)
        if (subscription is None or not subscription.current or subscription.state == UNSUBSCRIBED
                or not self.links.confirms(subscription.client, subscription.address, subscription.generation,
                                           dict(request.query), now)):
            return answer(request, "This link does not work",
                          "This confirmation link is invalid, has expired or was replaced by a newer one. Subscribe "
                          "again on the status page.", 403)
        return subscription

    def _subscribed(self, request: web.Request, subscription: Subscription, now: datetime) -> web.Response:
        page = self.links.url(subscription.client, subscription.generation, now)
        return answer(request, "You are subscribed",
                      f"{subscription.address} gets an email for every update and resolution of "
                      f"{subscription.client}'s incidents. Each email has a link to stop them.", back=page)

    async def confirm_page(self, request: web.Request) -> web.Response:
        now = self.deps.clock.now()
        found = await self._confirmable(request, now)
        if isinstance(found, web.Response):
            return found
        if found.state == CONFIRMED:
            return self._subscribed(request, found, now)
        return ask(request, "Confirm email updates", f"Send updates about {found.client}'s incidents to "
                   f"{found.address}?", "Confirm")

    async def confirm_route(self, request: web.Request) -> web.Response:
        now = self.deps.clock.now()
        found = await self._confirmable(request, now)
        if isinstance(found, web.Response):
            return found
        await confirm(self.deps, found.id, now)
        return self._subscribed(request, found, now)

    async def _leaving(self, request: web.Request) -> Subscription | web.Response:
        subscription = await self._subscription(request)
        if subscription is None or not self.links.unsubscribes(subscription.client, subscription.address,
                                                               dict(request.query)):
            return answer(request, "This link does not work",
                          "This unsubscribe link is invalid. Use the link in the latest email you got, or ask your "
                          "account manager.", 403)
        return subscription

    def _left(self, request: web.Request, subscription: Subscription) -> web.Response:
        return answer(request, "You are unsubscribed",
                      f"{subscription.address} gets no more emails about {subscription.client}'s incidents.")

    async def unsubscribe_page(self, request: web.Request) -> web.Response:
        found = await self._leaving(request)
        if isinstance(found, web.Response):
            return found
        if found.state == UNSUBSCRIBED:
            return self._left(request, found)
        return ask(request, "Stop email updates", f"Stop sending updates about {found.client}'s incidents to "
                   f"{found.address}?", "Unsubscribe")

    async def unsubscribe_route(self, request: web.Request) -> web.Response:
        """The page's button, and a mail client's one-click POST (List-Unsubscribe=One-Click)."""
        found = await self._leaving(request)
        if isinstance(found, web.Response):
            return found
        await unsubscribe(self.deps, found.id, self.deps.clock.now())
        return self._left(request, found)


def add_subscription_routes(app: web.Application, routes: SubscriptionRoutes) -> None:
    app.router.add_post("/status/{client}/subscribe", routes.subscribe_route)
    app.router.add_get("/status/{client}/confirm", routes.confirm_page)
    app.router.add_post("/status/{client}/confirm", routes.confirm_route)
    app.router.add_get("/status/{client}/unsubscribe", routes.unsubscribe_page)
    app.router.add_post("/status/{client}/unsubscribe", routes.unsubscribe_route)

