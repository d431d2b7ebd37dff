"""Intake in Teams and over HTTP: the monitoring webhooks (/api/alerts/…), Freshdesk's automation
webhook (/api/freshdesk), the Reported issue card (its post and its Declare, Merge and Dismiss
routes), the outbox handlers for Freshdesk, and the incident card's alert and ticket lines.
`wire_intake` plugs it all in."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference

from bot import context as ctx
from bot.adapter import json_error
from bot.poster import TeamsPoster
from bot.wiring import Wiring
from cards.elements import Json
from cards.incident import ViewExtras
from cards.intake import ReportView, incident_extras, reported_issue_card
from services.alerts import PARSERS, AlertFormatError
from services.alerts.model import SOURCE_NAMES
from services.comms.confirm import FRESHDESK
from services.delivery import PermanentDeliveryError, TransientDeliveryError
from services.deps import Deps
from services.freshdesk.inbound import ReportFormatError, classify_report, parse_ticket_webhook
from services.freshdesk.settings import FreshdeskSettings
from services.graph import GraphSettings
from services.incidents import DomainError, Incident, ValidationFailed
from services.intake.alerts import receive_alerts
from services.intake.effects import ReportCard
from services.intake.freshdesk_client import IncidentTickets
from services.intake.links import LINKABLE, match_incident, unlink_report
from services.intake.reports import (
    Report,
    declare_from_report,
    dismiss_report,
    load_report,
    merge_report,
    open_choices,
    receive_report,
    suggested_priority,
)
from services.intake.requester import Requesters
from services.intake.retention import ReceiptPruner
from services.intake.settings import IntakeSettings
from services.intake.summary import intake_summary
from services.intake.tables import ReportRow
from services.intake.ticket_delivery import TicketDelivery
from services.intake.tickets import TicketObserver
from services.intake.within import thread_target
from services.outbox import Effect
from services.rotation import matches_any
from services.store.db import database_unavailable
from services.store.uow import UnitOfWork
from services.verbs import Verb

log = logging.getLogger("beacon.intake")

MAX_BODY_BYTES = 1024 * 1024
SECRET_HEADER = "X-Beacon-Secret"
ALREADY_DECIDED = "Not applied: this report was already decided."
FORM_FIELDS = ("title", "description", "impact", "urgency", "service", "client")


# -- HTTP ---------------------------------------------------------------------------------------

async def read_json(request: web.Request) -> Any:
    """The decoded JSON body, or the 4xx response that says what is wrong with it."""
    kind = request.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        return json_error(415, f"Content-Type must be application/json, not {kind[:60]}")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _too_big()
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _too_big()
    except web.RequestPayloadError as error:  # e.g. Content-Encoding: gzip over bytes that are not gzip
        return json_error(400, f"the body could not be read: {getattr(error.__cause__, 'message', error)}"[:300])
    if len(raw) > MAX_BODY_BYTES:
        return _too_big()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        return json_error(400, f"the body is not valid JSON: {str(error)[:200]}")


def _too_big() -> web.Response:
    return json_error(413, f"the body is larger than {MAX_BODY_BYTES} bytes (1 MiB)")


def _bearer_or_query(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    # Azure Monitor action groups cannot set headers, so the token may come in the URL.
    return request.query.get("token", "")


class IntakeHttp:
    def __init__(self, deps: Deps, settings: IntakeSettings, freshdesk: FreshdeskSettings):
        self.deps, self.settings, self.freshdesk = deps, settings, freshdesk

    def alert_route(self, source: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            return await self.alerts(request, source)
        return route

    async def alerts(self, request: web.Request, source: str) -> web.Response:
        accepted = self.settings.alerts_tokens
        if not accepted:
            return json_error(503, "ALERTS_WEBHOOK_TOKEN is not set: Beacon refuses monitoring alerts until it "
                                   "is, since anyone could open incidents otherwise")
        if not matches_any(_bearer_or_query(request), accepted):
            response = json_error(401, "missing or wrong token: send ALERTS_WEBHOOK_TOKEN as "
                                       "'Authorization: Bearer <token>' or as ?token=<token>")
            response.headers["WWW-Authenticate"] = 'Bearer realm="beacon-alerts"'
            return response
        body = await read_json(request)
        if isinstance(body, web.Response):
            return body
        try:
            alerts = PARSERS[source](body)
        except AlertFormatError as error:
            return json_error(400, f"not a {SOURCE_NAMES[source]} webhook Beacon can read: {error.message}")
        try:
            outcomes = await receive_alerts(source, body, alerts, self.deps)
        except DomainError as error:
            return web.json_response({"error": str(error)}, status=503, headers={"Retry-After": "1"})
        except Exception as error:
            if database_unavailable(error):
                raise  # 503 with Retry-After from the app's middleware: monitoring sends it again
            log.exception("storing %s alerts failed", source)
            return json_error(500, "Beacon could not store the alert, so it was not accepted: send it again")
        log.info("%s: %d alert(s): %s", source, len(alerts), ", ".join(f"{o.outcome} {o.incident_id or ''}".strip()
                                                                        for o in outcomes[:20]))
        return web.json_response({"received": len(alerts), "alerts": [o.to_dict() for o in outcomes]})

    async def freshdesk_webhook(self, request: web.Request) -> web.Response:
        accepted = self.freshdesk.webhook_secrets
        if not accepted:
            return json_error(503, "FRESHDESK_WEBHOOK_SECRET is not set: Beacon refuses Freshdesk webhooks "
                                   "until it is")
        if not matches_any(request.headers.get(SECRET_HEADER, ""), accepted):
            return json_error(401, f"missing or wrong {SECRET_HEADER} header: it must carry FRESHDESK_WEBHOOK_SECRET")
        body = await read_json(request)
        if isinstance(body, web.Response):
            return body
        try:
            report = parse_ticket_webhook(body)
        except ReportFormatError as error:
            return json_error(400, f"not the ticket webhook Beacon documents: {error.message}")
        config = self.deps.config
        found = classify_report(report, config.report_triage, config.directory.clients,
                                [s.name for s in config.services])
        url = report.url if report.url.startswith(("https://", "http://")) else (
            self.freshdesk.ticket_url(report.ticket_id) if self.freshdesk.url else "")
        stored, outcome = await receive_report(report, found, url, self.deps)
        return web.json_response({"ticket_id": report.ticket_id, "report": outcome,
                                  "status": stored.status if stored else None},
                                 status=201 if outcome in ("new", "linked") else 200)


# -- the Reported issue card --------------------------------------------------------------------

async def report_view(deps: Deps, ticket_id: int, **extra: Any) -> ReportView:
    report = await load_report(deps, ticket_id)
    async with deps.uow() as uow:
        incidents = await uow.incidents.open()
        row = await uow.reported_issues.get(ticket_id)
    match = match_incident(row, incidents) if row is not None and report.status == "new" else None
    unlinkable = report.status in LINKABLE and any(i.id == report.incident_id for i in incidents)
    return ReportView(report, suggested_priority(report, deps.config), open_choices(incidents), match=match,
                      unlinkable=unlinkable, **extra)


def _reference(row: ReportRow, app_id: str) -> ConversationReference:
    return ConversationReference(
        channel_id="msteams", service_url=row.service_url,
        conversation=ConversationAccount(id=row.conversation_id, is_group=True, tenant_id=row.tenant_id or None),
        bot=ChannelAccount(id=f"28:{app_id}" if app_id else "beacon", name="Beacon"))


class ReportCards(TeamsPoster):
    """Posts each report's card as a new thread in the triage channel, and redraws it in place."""

    async def deliver(self, effect: Effect) -> None:
        ticket_id = int(effect.payload["ticket_id"])
        async with self.deps.uow() as uow:
            row = await uow.reported_issues.get(ticket_id)
        if row is None:
            raise PermanentDeliveryError(f"reported issue #{ticket_id} is gone")
        card = reported_issue_card(await report_view(self.deps, ticket_id), self.deps.config)
        activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
        if not row.activity_id:
            await self._post(ticket_id, activity)
            return

        async def update(turn_context: TurnContext) -> None:
            activity.id = row.activity_id
            await turn_context.update_activity(activity)

        await self._proactive(_reference(row, self.adapter.app_id), update)

    async def _post(self, ticket_id: int, activity: Any) -> None:
        channels = self.deps.config.channels
        async with self.deps.uow() as uow:
            target = await thread_target(uow, channels.triage_channel or channels.incidents_channel)
        if target is None:
            raise TransientDeliveryError("Beacon is not installed in any team yet; the reported issue card "
                                         "waits for it (add Beacon to a team)")
        conversation_id, root_id = await self.new_channel_thread(target.to_dict(), activity)
        async with self.deps.uow() as uow:
            row = await uow.reported_issues.get(ticket_id)
            if row is not None:
                row.conversation_id, row.activity_id = conversation_id, root_id
                row.service_url, row.tenant_id = target.service_url, target.tenant_id
                await uow.commit()


def _ticket_id(data: dict[str, Any]) -> int:
    value = str(data.get("ticketId") or "")
    if not value.isdigit() or not 0 < int(value) < 2**63:
        raise ValueError("ticketId must be a Freshdesk ticket number")
    return int(value)


class ReportActions:
    """Declare, Merge and Dismiss on a Reported issue card; each answers with the card to show."""

    def __init__(self, deps: Deps, settings: IntakeSettings):
        self.deps, self.settings = deps, settings

    async def declare(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        ticket_id, activity = _ticket_id(data), turn_context.activity
        target = ctx.thread_target(activity, self.deps.config)
        try:
            _, incident = await declare_from_report(ticket_id, data, ctx.actor(activity), target, self.deps)
        except ValidationFailed as error:
            form = {name: str(data.get(name) or "") for name in FORM_FIELDS}
            return await self._card(ticket_id, notice=str(error), is_error=True, form=form)
        return await self._card(ticket_id, notice=_declared(incident))

    async def merge(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        """Merge (the Merge form) or Link to INC-n (the card's first button): the same decision."""
        how = "linked" if verb is Verb.REPORT_LINK else "merged"
        ticket_id = _ticket_id(data)
        raw = str(data.get("incidentId") or "").removeprefix("INC-")
        if not raw.isdigit() or not 0 < int(raw) < 2**31:
            return await self._card(ticket_id, notice=f"Choose the open incident to {how[:-1]} into.", is_error=True)
        try:
            _, applied = await merge_report(ticket_id, int(raw), ctx.actor(turn_context.activity), self.deps,
                                            how=how)
        except DomainError as error:
            return await self._card(ticket_id, notice=str(error), is_error=True)
        return await self._card(ticket_id, notice="Done." if applied else ALREADY_DECIDED)

    async def unlink(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        ticket_id = _ticket_id(data)
        try:
            row = await unlink_report(ticket_id, ctx.actor(turn_context.activity), self.deps)
        except DomainError as error:
            return await self._card(ticket_id, notice=str(error), is_error=True)
        return await self._card(ticket_id, notice="Unlinked: this report is back in triage." if row else
                                "Not applied: this report is not linked to an incident.")

    async def dismiss(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        ticket_id = _ticket_id(data)
        try:
            report = await dismiss_report(ticket_id, data.get("reason"), ctx.actor(turn_context.activity),
                                          self.deps, public_note=self.settings.public_notes)
        except DomainError as error:
            return await self._card(ticket_id, notice=str(error), is_error=True)
        return await self._card(ticket_id, notice=_outcome(report, "dismissed"))

    async def _card(self, ticket_id: int, **extra: Any) -> Json:
        return reported_issue_card(await report_view(self.deps, ticket_id, **extra), self.deps.config)


def _declared(incident: Incident | None) -> str:
    if incident is None:
        return "Not declared: this report was already decided."
    return f"{incident.number} declared from this report; its card is in the incidents thread."


def _outcome(report: Report, wanted: str) -> str:
    return "Done." if report.status == wanted else ALREADY_DECIDED


# -- the incident card, and wiring ---------------------------------------------------------------

async def intake_extras(uow: UnitOfWork, incident: Incident) -> ViewExtras:
    if incident.id is None:
        return ViewExtras()
    return incident_extras(await intake_summary(uow, incident.id), is_open=incident.is_open)


def ticket_requesters(wiring: Wiring, settings: IntakeSettings) -> Requesters:
    """Who tickets are filed as: the declaring person is looked up in Graph when it is configured."""
    graph = wiring.outside.graph or GraphSettings()
    people = None
    if wiring.graph is not None and wiring.graph.connection is not None:
        from services.bridge.people import GraphPeople  # msgraph-sdk only when Graph is configured

        people = GraphPeople(wiring.graph.connection.client)
    return Requesters(wiring.deps.config, settings, mail_sender=graph.mail_sender, people=people)


def _client_status_link(deps: Deps) -> Any:
    """The client's status-page link as replies carry it; status pages are wired after intake, so
    it is looked up when a reply is written."""
    async def link(uow: UnitOfWork, client: str, now: datetime) -> str:
        return await deps.client_status_link(uow, client, now) if deps.client_status_link else ""
    return link


def wire_intake(wiring: Wiring) -> None:
    settings = wiring.outside.extra.get("intake") or IntakeSettings()
    freshdesk = wiring.outside.extra.get("freshdesk") or FreshdeskSettings()
    client: IncidentTickets | None = None
    if freshdesk.missing():
        wiring.not_configured.append("Freshdesk not configured (incidents get no ticket): "
                                     + "; ".join(freshdesk.missing()))
        wiring.deps.unavailable[FRESHDESK] = "Freshdesk is not set up"
    else:
        client = IncidentTickets(freshdesk)
        wiring.closers.append(client.aclose)
    if not settings.alerts_tokens:
        wiring.not_configured.append("ALERTS_WEBHOOK_TOKEN is empty: monitoring alerts are refused (503) until set")
    if not freshdesk.webhook_secrets:
        wiring.not_configured.append("FRESHDESK_WEBHOOK_SECRET is empty: Freshdesk reports are refused (503) until set")
    deps = wiring.deps
    deps.observers.append(TicketObserver(settings, deps.config, configured=client is not None,
                                         status_link=_client_status_link(deps)))
    deps.view_extras.append(intake_extras)
    wiring.handlers.update(TicketDelivery(deps, client, settings, ticket_requesters(wiring, settings)).handlers())
    limits = wiring.poster.limits if wiring.poster else ()  # the triage channel is paced like the others
    wiring.handlers[ReportCard] = ReportCards(wiring.adapter, deps, limits=limits).deliver
    actions = ReportActions(deps, settings)
    wiring.card_actions.register(Verb.REPORT_DECLARE, actions.declare)
    wiring.card_actions.register(Verb.REPORT_MERGE, actions.merge)
    wiring.card_actions.register(Verb.REPORT_DISMISS, actions.dismiss)
    wiring.card_actions.register(Verb.REPORT_LINK, actions.merge)
    wiring.card_actions.register(Verb.REPORT_UNLINK, actions.unlink)
    wiring.runners.append(ReceiptPruner(deps.uow, deps.clock, settings.alert_receipts_keep))
    http = IntakeHttp(deps, settings, freshdesk)
    for source in PARSERS:
        wiring.app.router.add_post(f"/api/alerts/{source}", http.alert_route(source))
    wiring.app.router.add_post("/api/freshdesk", http.freshdesk_webhook)
