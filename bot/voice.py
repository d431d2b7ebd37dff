"""Paging by phone: the PageVoice handler that places the call, and the two routes Twilio posts to
while it runs (the key press, and the call's outcome).

Twilio learns both callback addresses from the call itself: `{BEACON_PUBLIC_URL}/voice/twilio/
<token>/gather|status`, where the token is a signed acknowledge token (services/paging/links.py,
via "voice") naming the incident, the person, the level and round. A callback is believed only when
its X-Twilio-Signature (HMAC-SHA1 under TWILIO_AUTH_TOKEN of the public URL and the posted
fields) matches; otherwise it gets 403 and changes nothing. Pressing 1 acknowledges through the
same use case as the link, once per call (the token's nonce); other keys or silence ask once more,
then say goodbye and leave the escalation running. A call's outcome goes on the timeline once per
call and status, and never stops the escalation: only an acknowledgement does.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from bot.paging import page_wanted
from bot.wiring import Wiring
from services.delivery import DeliveryError, NotConfigured
from services.deps import Deps
from services.incidents import Incident, TimelineEvent
from services.notify.sms import mask_phone
from services.notify.voice import build_voice_caller
from services.notify.voice.settings import VoiceSettings
from services.notify.voice.twilio import CallOutcomeUnknown, TwilioVoiceCaller
from services.notify.voice.twiml import (
    ACK_DIGIT,
    SpokenPage,
    goodbye_twiml,
    page_twiml,
    reprompt_twiml,
    valid_signature,
)
from services.outbox import Effect
from services.paging.acknowledge import acknowledge_page
from services.paging.effects import PageVoice
from services.paging.links import AckClaim, AckLinks, LinkRefused
from services.paging.voice_calls import FINAL_STATUSES, CancelCalls, VoiceCallMarks, record_call_outcome

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

log = logging.getLogger("beacon.voice")
CLOCK_SLACK = timedelta(seconds=5)  # Twilio's clock against ours, and its whole-second date_created
PROMPTS = 2  # the first prompt and one more after a wrong key or silence


def callback_url(links: AckLinks, token: str, tail: str) -> str:
    return f"{links.base_url}/voice/twilio/{token}/{tail}"


def spoken(text: str) -> str:
    return text.replace("INC-", "incident ")


class VoicePages:
    """Places one call per voice page, never two for the same page (services/paging/voice_calls.py)."""

    def __init__(self, deps: Deps, links: AckLinks, caller: TwilioVoiceCaller):
        self.deps, self.links, self.caller = deps, links, caller

    async def call(self, effect: Effect) -> None:
        incident = await page_wanted(self.deps, effect)
        assert incident.id is not None
        p, key = effect.payload, effect.key
        phone = str(p["phone"])
        if await self._placed_before(key, phone, incident.id):
            return
        async with self.deps.uow() as uow:
            await uow.write_first()
            await VoiceCallMarks(uow).start_attempt(key, effect.attempts, incident.id, self.deps.clock.now())
            await uow.commit()
        now = self.deps.clock.now()
        token = self.links.token(incident.id, str(p["person"]), "voice", now, level=int(p["level"]),
                                 round_=int(p["round"]))
        page = SpokenPage(incident.number, incident.priority, incident.title, incident.service or "", incident.drill)
        twiml = page_twiml(page, callback_url(self.links, token, "gather?attempt=1"))
        try:
            sid = await self.caller.place_call(phone, twiml, callback_url(self.links, token, "status"))
        except CallOutcomeUnknown:
            raise  # the attempt stays open: the next try asks Twilio before calling again
        except DeliveryError:
            async with self.deps.uow() as uow:  # Twilio refused: this attempt made no call
                await VoiceCallMarks(uow).attempt_refused(key, effect.attempts)
                await uow.commit()
            raise
        await self._record_placed(key, incident.id, sid)
        log.info("paged %s by phone for %s (call %s)", mask_phone(phone), incident.number, sid)

    async def _placed_before(self, key: str, phone: str, incident_id: int) -> bool:
        """True when an earlier attempt of this page already made a call (known, or found at Twilio)."""
        async with self.deps.uow() as uow:
            if await VoiceCallMarks(uow).was_placed(key):
                log.info("the call of page %s was placed before: not calling again", key)
                return True
            attempts = await VoiceCallMarks(uow).open_attempts(key)
        if not attempts:
            return False
        # An attempt whose answer never came: a call Twilio created while it was in flight is that attempt's.
        window_end = attempts[-1] + timedelta(seconds=self.caller.request_timeout) + CLOCK_SLACK
        found = await self.caller.calls_between(phone, attempts[0] - CLOCK_SLACK, window_end)
        if not found:
            return False
        log.warning("call %s to %s was made by an attempt whose answer was lost: not calling again",
                    found[0], mask_phone(phone))
        await self._record_placed(key, incident_id, found[0])
        return True

    async def _record_placed(self, key: str, incident_id: int, sid: str) -> None:
        async with self.deps.uow() as uow:
            await uow.write_first()
            await VoiceCallMarks(uow).record_placed(key, incident_id, self.deps.clock.now(), sid)
            await uow.commit()

    async def cancel(self, effect: Effect) -> None:
        """CancelCalls: hang up the incident's calls still ringing (answered ones finish)."""
        incident_id = int(effect.payload["incident_id"])
        async with self.deps.uow() as uow:
            sids = await VoiceCallMarks(uow).call_sids(incident_id)
        for sid in sids:
            status = await self.caller.cancel_if_ringing(sid)
            if status == "canceled":
                log.info("call %s for INC-%s canceled: %s", sid, incident_id, effect.payload["reason"])


class StopRingingCalls:
    """An incident observer: once someone acknowledged (another way) or the incident is over, the
    paging calls that still ring are stopped, so nobody is woken for a page already answered."""

    async def on_declared(self, uow: UnitOfWork, incident: Incident, now: datetime) -> None:
        return None

    async def on_changed(self, uow: UnitOfWork, incident: Incident, events: list[TimelineEvent],
                         now: datetime) -> None:
        ended = next((e for e in events if e.kind in ("acknowledged", "resolved", "closed")), None)
        if ended is None or incident.id is None or not await VoiceCallMarks(uow).call_sids(incident.id):
            return
        await uow.outbox.add_many([CancelCalls(incident.id, ended.summary)], now=now)


def _forbidden(message: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=json.dumps({"error": message}), content_type="application/json")


def _twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml", headers={"Cache-Control": "no-store"})


class VoiceCallbacks:
    """POST /voice/twilio/{token}/gather and /status: believed only with a valid X-Twilio-Signature."""

    def __init__(self, deps: Deps, links: AckLinks, caller: TwilioVoiceCaller | None):
        self.deps, self.links, self.caller = deps, links, caller

    async def _verified(self, request: web.Request) -> tuple[MultiDictProxy[str | FileField], AckClaim | None]:
        """The posted fields and the token's claim (None when the token no longer holds); a request
        Twilio did not sign is refused with 403 before anything is read from it."""
        if self.caller is None:
            raise _forbidden("Voice calls are not configured on this Beacon.")
        form = await request.post()
        fields = [(name, value) for name, value in form.items() if isinstance(value, str)]
        url = self.links.base_url + request.raw_path  # the public address Twilio signed, not the proxy's
        if len(fields) != len(form) or not valid_signature(self.caller.auth_token, url, fields,
                                                           request.headers.get("X-Twilio-Signature", "")):
            log.warning("refused a voice callback to %s: X-Twilio-Signature does not match", request.path[:80])
            raise _forbidden("X-Twilio-Signature does not match this request.")
        try:
            claim = self.links.verify(request.match_info["token"], self.deps.clock.now(),
                                      self.deps.config.directory_keys())
        except LinkRefused as refused:
            log.warning("voice callback with a token Beacon no longer accepts: %s", refused)
            return form, None
        return form, claim if claim.via == "voice" else None

    async def gather(self, request: web.Request) -> web.Response:
        form, claim = await self._verified(request)
        if claim is None:
            return _twiml(goodbye_twiml("This page can no longer be acknowledged by phone. Acknowledge in Teams."))
        incident = f"incident {claim.incident_id}"
        digits = str(form.get("Digits", ""))
        if digits != ACK_DIGIT:
            asked = request.query.get("attempt", "1")
            attempt = int(asked) if asked.isdigit() else PROMPTS
            if attempt < PROMPTS:
                action = callback_url(self.links, request.match_info["token"], f"gather?attempt={attempt + 1}")
                return _twiml(reprompt_twiml(incident, digits, action))
            return _twiml(goodbye_twiml(f"Not acknowledged: Beacon keeps paging for {incident}."))
        outcome = await acknowledge_page(self.deps, claim.incident_id, claim.person, "voice", level=claim.level,
                                         round_=claim.round, use_key=claim.use_key)
        if outcome.already_used:  # Twilio posted the same key press again
            return _twiml(goodbye_twiml(f"You acknowledged {incident}."))
        if outcome.acknowledged:
            return _twiml(goodbye_twiml(f"Acknowledged. {incident} is yours, and Beacon stopped the escalation."))
        return _twiml(goodbye_twiml(spoken(outcome.message)))

    async def status(self, request: web.Request) -> web.Response:
        form, claim = await self._verified(request)
        status, sid = str(form.get("CallStatus", "")), str(form.get("CallSid", ""))
        if claim is not None and status in FINAL_STATUSES and sid:
            await record_call_outcome(self.deps, claim, sid, status, str(form.get("CallDuration", "")))
        return web.Response(status=204)



async def _not_configured(effect: Effect) -> None:
    raise NotConfigured("voice")


def wire_voice(wiring: Wiring) -> None:
    """Voice pages through Twilio when VOICE_PROVIDER says so; runs after wire_paging (its links)."""
    settings = wiring.outside.extra.get("voice") or VoiceSettings()
    caller, reason = build_voice_caller(settings, wiring.settings.public_url)
    links: AckLinks = wiring.outside.extra["ack_links"]
    if caller is None:
        wiring.not_configured.append(f"Voice calls not configured: {reason}")
    else:
        wiring.closers.append(caller.aclose)
        pages = VoicePages(wiring.deps, links, caller)
        wiring.handlers[PageVoice] = pages.call
        wiring.handlers[CancelCalls] = pages.cancel
        wiring.deps.observers.append(StopRingingCalls())
    wiring.handlers.setdefault(CancelCalls, _not_configured)
    callbacks = VoiceCallbacks(wiring.deps, links, caller)
    wiring.app.router.add_post("/voice/twilio/{token}/gather", callbacks.gather)
    wiring.app.router.add_post("/voice/twilio/{token}/status", callbacks.status)

