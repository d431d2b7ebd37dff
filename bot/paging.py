"""Paging's outside edge: the page handlers (Teams personal message, SMS, email; voice in
bot/voice.py), the thread mention, and the signed acknowledge link's two routes.

Each page handler first checks that the page is still wanted: a page that has waited (a retry, a
slow provider) for an incident someone has acknowledged or resolved meanwhile is recorded as not
sent, with the reason, rather than waking someone for nothing.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web
from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity, ChannelAccount, Mention

from bot.personal import PersonalMessages
from bot.poster import TeamsPoster, plain_text_message
from bot.wiring import Wiring, link_signing
from cards.elements import label, plain
from cards.paging import ack_message, ack_page, page_card
from services.config import ConfigError
from services.delivery import NotConfigured, PermanentDeliveryError
from services.deps import Deps
from services.durations import duration
from services.effects.teams import ThreadMention
from services.incidents import Incident
from services.notify.sms import is_gsm7
from services.outbox import Effect
from services.paging.acknowledge import acknowledge_page, paged_person
from services.paging.effects import PageEmail, PageSms, PageTeams, PageVoice
from services.paging.links import AckClaim, AckLinks, LinkRefused
from services.ports import EmailMessage, Mailer, Recipient, SmsSender
from services.settings import Settings

log = logging.getLogger("beacon.paging")
SMS_SEGMENT = 160


class PageNotNeeded(NotConfigured):
    """The incident was acknowledged or closed before this page went out: recorded as not sent."""

    def __init__(self, message: str):
        PermanentDeliveryError.__init__(self, message)
        self.system = "paging"


async def page_wanted(deps: Deps, effect: Effect) -> Incident:
    """The page's incident, when it still needs someone; else PageNotNeeded says why not."""
    incident_id = int(effect.payload["incident_id"])
    async with deps.uow() as uow:
        incident = await uow.incidents.get(incident_id)
    if incident is None:
        raise PermanentDeliveryError(f"INC-{incident_id} does not exist")
    # A page by hand (level 0) asks for someone's help, acknowledged or not.
    if incident.acknowledged_at is not None and int(effect.payload["level"]):
        who = incident.acknowledged_by.name if incident.acknowledged_by else "someone"
        raise PageNotNeeded(f"not sent: {who} acknowledged {incident.number} first")
    if not incident.is_open:
        raise PageNotNeeded(f"not sent: {incident.number} is {incident.status.value}")
    return incident


def ack_links(settings: Settings, notes: list[str]) -> AckLinks:
    secret, base = link_signing(settings, settings.ack_link_secret, "ACK_LINK_SECRET", "acknowledge links", notes)
    try:
        ttl = duration(settings.ack_link_ttl)
    except ValueError as error:
        raise ConfigError(f"ACK_LINK_TTL: {error}") from None
    return AckLinks(secret, base, ttl)


def sms_page_text(text: str, link: str) -> str:
    """One GSM-7 segment with the link whole: the title gives way, never the link."""
    gsm = "".join(char if is_gsm7(char) else "?" for char in text)
    room = SMS_SEGMENT - len(link) - len(" Ack: ")
    head = gsm if len(gsm) <= room else gsm[:max(0, room - 3)].rstrip() + "..."
    return f"{head} Ack: {link}"


class PageDelivery:
    def __init__(self, deps: Deps, links: AckLinks, personal: PersonalMessages, sms: SmsSender | None,
                 mailer: Mailer | None):
        self.deps, self.links, self.personal, self.sms_sender, self.mailer = deps, links, personal, sms, mailer

    async def _wanted(self, effect: Effect) -> Incident:
        return await page_wanted(self.deps, effect)

    def _link(self, effect: Effect, via: str) -> str:
        p = effect.payload
        return self.links.url(int(p["incident_id"]), str(p["person"]), via, self.deps.clock.now(),
                              level=int(p["level"]), round_=int(p["round"]))

    async def teams(self, effect: Effect) -> None:
        incident = await self._wanted(effect)
        p = effect.payload
        card = page_card(incident, int(p["level"]), int(p["round"]), str(p["text"]))
        activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
        activity.summary = label(str(p["text"]))  # the notification's preview line
        await self.personal.send(incident.id, str(p["aad_object_id"]), str(p["name"]), activity)

    async def sms(self, effect: Effect) -> None:
        await self._wanted(effect)
        if self.sms_sender is None:
            raise NotConfigured("SMS")
        text = sms_page_text(str(effect.payload["text"]), self._link(effect, "sms_link"))
        await self.sms_sender.send_sms(str(effect.payload["phone"]), text, idempotency_key=effect.key)

    async def email(self, effect: Effect) -> None:
        incident = await self._wanted(effect)
        if self.mailer is None:
            raise NotConfigured("email (Graph sendMail)")
        p = effect.payload
        link = self._link(effect, "email_link")
        subject = f"[PAGE] {p['text']}"[:200]
        html_body = (f"<div style='font-family:Segoe UI,Arial,sans-serif;font-size:16px;max-width:560px'>"
                     f"<h2 style='font-size:19px'>You are paged: {_esc(p['text'])}</h2>"
                     f"<p>Service: {_esc(incident.service or '—')} · Level {int(p['level'])}</p>"
                     f"<p><a href='{_esc(link)}' style='display:inline-block;padding:12px 20px;background:#107c10;"
                     f"color:#fff;text-decoration:none;border-radius:6px'>Open and acknowledge</a></p>"
                     f"<p style='color:#555'>Opening the link does not acknowledge; the button on its page does.</p>"
                     f"</div>")
        text = f"You are paged: {p['text']}\n\nAcknowledge: {link}\n(Opening the link does not acknowledge.)"
        await self.mailer.send_mail(EmailMessage((Recipient(str(p["email"]), str(p["name"])),), subject, html_body,
                                                 text))

    async def voice_not_configured(self, effect: Effect) -> None:
        await self._wanted(effect)
        raise NotConfigured("voice")

    async def thread_mention(self, effect: Effect) -> None:
        """A reply that @mentions people; the absent ones also get it as a personal message."""
        p = effect.payload
        incident_id = int(p["incident_id"])
        people = await self._named(incident_id, [(str(name), str(person_id)) for name, person_id in p["people"]])
        tags = " ".join(f"<at>{label(name)}</at>" for name, _ in people)
        activity = Activity(type="message", text=f"{tags} {plain(p['text'])}".strip(), entities=[
            Mention(mentioned=ChannelAccount(id=person_id, name=label(name)), text=f"<at>{label(name)}</at>",
                    type="mention") for name, person_id in people])
        await self.personal.poster.reply_in_thread(incident_id, activity)
        if not p.get("personal_if_absent"):
            return
        endpoint = await self.personal.endpoint(incident_id)
        for name, person_id in people:
            if not await self.personal.is_member(endpoint, endpoint.roster, person_id):
                # Plain text: the message quotes the incident's title (a person's, an alert's or a
                # ticket's words), which Teams would otherwise render as Markdown.
                await self.personal.send(incident_id, person_id, name, plain_text_message(str(p["text"])))

    async def _named(self, incident_id: int, people: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """People picked in Teams arrive as ids only: a mention shows a name, so learn it (from the
        people Beacon knows, else the channel's roster)."""
        unnamed = [person_id for name, person_id in people if not name]
        if not unnamed:
            return people
        async with self.deps.uow() as uow:
            known = await uow.people.named(unnamed)
        named = []
        for name, person_id in people:
            if not name and person_id in known and known[person_id].name:
                name = known[person_id].name
            elif not name:
                endpoint = await self.personal.endpoint(incident_id)
                member = await self.personal.find(endpoint, person_id)
                name = member.name if member is not None and member.name else "responder"
            named.append((name, person_id))
        return named


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def _answer(request: web.Request, message: str, status: int, *, ok: bool = False) -> web.Response:
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
    if _wants_html(request):
        return web.Response(text=ack_message(message, ok=ok), status=status, content_type="text/html",
                            headers=headers)
    body = {"message": message} if ok else {"error": message}
    return web.json_response(body, status=status, headers=headers)


class AckRoutes:
    """GET shows the incident and a button; only the POST acknowledges."""

    def __init__(self, deps: Deps, links: AckLinks):
        self.deps, self.links = deps, links

    def _claim(self, request: web.Request) -> AckClaim:
        return self.links.verify(request.match_info["token"], self.deps.clock.now(), self.deps.config.directory_keys())

    async def show(self, request: web.Request) -> web.Response:
        try:
            claim = self._claim(request)
        except LinkRefused as refused:
            return _answer(request, str(refused), 403)
        async with self.deps.uow() as uow:
            used = await uow.activities.was_processed(claim.use_key)
            incident = await uow.incidents.get(claim.incident_id)
        if incident is None:
            return _answer(request, f"INC-{claim.incident_id} does not exist.", 404)
        if used:
            return _answer(request, "This acknowledge link was already used.", 409)
        person = paged_person(self.deps, claim.person)
        if not _wants_html(request):
            return web.json_response({"incident": incident.number, "title": incident.title, "person": person.name,
                                      "acknowledged": incident.acknowledged_at is not None},
                                     headers={"Cache-Control": "no-store"})
        return web.Response(text=ack_page(incident, person.name, request.match_info["token"]),
                            content_type="text/html", headers={"Cache-Control": "no-store",
                                                               "Referrer-Policy": "no-referrer"})

    async def acknowledge(self, request: web.Request) -> web.Response:
        try:
            claim = self._claim(request)
        except LinkRefused as refused:
            return _answer(request, str(refused), 403)
        outcome = await acknowledge_page(self.deps, claim.incident_id, claim.person, claim.via, level=claim.level,
                                         round_=claim.round, use_key=claim.use_key)
        return _answer(request, outcome.message, 200 if outcome.acknowledged else 409, ok=outcome.acknowledged)


def wire_paging(wiring: Wiring) -> None:
    """Page handlers and the acknowledge link; voice stays "not configured" until an integration
    registers a handler for PageVoice (wiring.handlers[PageVoice] = …)."""
    links = ack_links(wiring.settings, wiring.not_configured)
    wiring.outside.extra["ack_links"] = links
    poster: TeamsPoster = wiring.poster
    pages = PageDelivery(wiring.deps, links, PersonalMessages(poster), wiring.sms,
                         wiring.graph.mailer if wiring.graph is not None else None)
    wiring.handlers.update({PageTeams: pages.teams, PageSms: pages.sms, PageEmail: pages.email,
                            ThreadMention: pages.thread_mention})
    wiring.handlers.setdefault(PageVoice, pages.voice_not_configured)
    routes = AckRoutes(wiring.deps, links)
    wiring.app.router.add_get("/ack/{token}", routes.show)
    wiring.app.router.add_post("/ack/{token}", routes.acknowledge)
