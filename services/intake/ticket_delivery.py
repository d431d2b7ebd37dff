"""Outbox handlers for Freshdesk effects: create the incident's ticket, PUT its changes, add notes,
reply to customers.

At-least-once, like every outbox delivery; what keeps a retry from making a second ticket:
the link row records the ticket id as soon as Freshdesk answers, a retry after a timeout or 5xx
first searches for the ticket by its INC-n tag, and a 429 means Freshdesk created nothing. What
remains: Beacon crashing between Freshdesk's answer and storing it, or Freshdesk's search not yet
listing a ticket it created moments ago; then the retry creates a second ticket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.delivery import DeliveryError, NotConfigured, PermanentDeliveryError
from services.deps import Deps
from services.incidents import Incident, TimelineEvent
from services.intake.effects import CreateTicket, CustomerReply, TicketNote, UpdateTicket
from services.intake.freshdesk_client import IncidentTickets
from services.intake.requester import Requesters
from services.intake.settings import IntakeSettings
from services.intake.store import FIRST_REPLY
from services.intake.tickets import teams_thread_url, ticket_request
from services.intake.within import record, refresh_card
from services.outbox import Effect, EffectHandlers
from services.ports import Ticket

log = logging.getLogger("beacon.freshdesk")

# The ticket links back to the incident's Teams thread, which the card post (queued in the same
# transaction, delivered alongside) is usually creating at this moment: wait for it this long, on
# the first attempt only. Short, because the wait holds up the outbox worker's next batch.
THREAD_WAIT_SECONDS = 3.0


class TicketDelivery:
    def __init__(self, deps: Deps, client: IncidentTickets | None, settings: IntakeSettings,
                 requesters: Requesters | None = None):
        self.deps, self.client, self.settings = deps, client, settings
        self.requesters = requesters or Requesters(deps.config, settings)

    def handlers(self) -> EffectHandlers:
        return {CreateTicket: self.create, UpdateTicket: self.update, TicketNote: self.note,
                CustomerReply: self.reply}

    async def create(self, effect: Effect) -> None:
        link_id = int(effect.payload["link_id"])
        async with self.deps.uow() as uow:
            link = await uow.tickets.get(link_id)
            incident = await uow.incidents.get(link.incident_id) if link else None
        if link is None or incident is None:
            raise PermanentDeliveryError(f"ticket link {link_id} or its incident is gone")
        if link.ticket_id is not None:
            return  # an earlier attempt created it; its answer was stored
        if self.client is None:
            await self._mark(link_id, "not_sent", "Freshdesk not configured")
            raise NotConfigured("Freshdesk")
        try:
            thread_url = await self._thread_url(incident, wait=effect.attempts == 1)
            request = ticket_request(incident, self.deps.config, self.settings, thread_url,
                                     await self.requesters.of(incident))
        except ValueError as error:
            await self._mark(link_id, "failed", str(error))
            raise PermanentDeliveryError(str(error)) from None
        try:
            ticket = None
            if effect.attempts > 1:  # the last attempt may have created it before failing
                ticket = await self.client.find_incident_ticket(incident.number, incident.declared_at)
            ticket = ticket or await self.client.create_ticket(request)
        except DeliveryError as error:
            if not error.transient or effect.last_attempt:  # the outbox gives up: so does the card
                await self._mark(link_id, "failed", str(error))
            raise
        await self._created(link_id, incident, ticket)

    async def _thread_url(self, incident: Incident, *, wait: bool) -> str:
        assert incident.id is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (THREAD_WAIT_SECONDS if wait else 0.0)
        while True:
            async with self.deps.uow() as uow:
                thread = await uow.threads.get(incident.id)
            if thread is not None:
                return teams_thread_url(thread.channel_id, thread.conversation_id, thread.root_activity_id,
                                        thread.tenant_id)
            if loop.time() >= deadline:
                return ""
            await asyncio.sleep(0.1)

    async def _created(self, link_id: int, incident: Incident, ticket: Ticket) -> None:
        now = self.deps.clock.now()
        async with self.deps.uow() as uow:
            link = await uow.tickets.get(link_id)
            assert link is not None
            link.ticket_id, link.url, link.state, link.error = ticket.id, ticket.url, "linked", ""
            current = await uow.incidents.get(link.incident_id) or incident
            await record(uow, current, "ticket_created", f"Freshdesk ticket #{ticket.id} created", now,
                         after={"ticket_id": ticket.id, "url": ticket.url})
            await refresh_card(uow, link.incident_id, f"ticket{ticket.id}", now)
            await uow.commit()
        log.info("%s: Freshdesk ticket %s", incident.number, ticket.id)

    async def _mark(self, link_id: int, state: str, error: str) -> None:
        """Note why the incident has no ticket, and redraw its card, which said "creating…"."""
        async with self.deps.uow() as uow:
            link = await uow.tickets.get(link_id)
            if link is not None and link.ticket_id is None:
                link.state, link.error = state, error[:2000]
                await refresh_card(uow, link.incident_id, f"link{link_id}:{state}", self.deps.clock.now())
                await uow.commit()

    async def update(self, effect: Effect) -> None:
        client, ticket_id = await self._target(effect.payload)
        await client.update_ticket(ticket_id, priority=effect.payload.get("priority"),
                                   status=effect.payload.get("status"))

    async def note(self, effect: Effect) -> None:
        client, ticket_id = await self._target(effect.payload)
        private = effect.payload.get("private")
        private = not self.settings.public_notes if private is None else bool(private)
        if not private and await self._customers(ticket_id):
            private = True  # internal notes never reach a customer (rows queued before this rule too)
        await client.add_note(ticket_id, str(effect.payload["html"]), private=private)

    async def _customers(self, ticket_id: int) -> bool:
        """Whether a customer opened the ticket (it came in as a reported issue)."""
        async with self.deps.uow() as uow:
            return await uow.reported_issues.get(ticket_id) is not None

    async def reply(self, effect: Effect) -> None:
        client, ticket_id = await self._target(effect.payload)
        reference = str(effect.payload["reference"])
        # Only an attempt that may have reached Freshdesk can have replied: a 429 or a wait for the
        # budget is not counted, so attempts > 1 means one was sent (or the process died sending it).
        if effect.attempts > 1 and await client.has_reply(ticket_id, reference):
            log.info("ticket %s already has reply %s: not sent again", ticket_id, reference)
        else:
            await client.reply(ticket_id, str(effect.payload["html"]))
        await self._first_reply(int(effect.payload["incident_id"]), ticket_id)

    async def _first_reply(self, incident_id: int, ticket_id: int) -> None:
        """The incident's timeline says when customers first heard back (the metrics read it). Its
        replies go out one after another (one ordering key), so two cannot both be first."""
        async with self.deps.uow() as uow:
            if await uow.timeline.latest(incident_id, FIRST_REPLY) is not None:
                return
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                return
            await uow.timeline.record(incident_id, TimelineEvent(
                FIRST_REPLY, self.deps.clock.now(), None, f"First public reply to a customer, on Freshdesk ticket #{ticket_id}",
                after={"ticket_id": ticket_id}), incident.version)
            await uow.commit()

    async def _target(self, payload: dict[str, Any]) -> tuple[IncidentTickets, int]:
        """The client and the ticket an effect is for: given, or the one created for its link."""
        if self.client is None:
            raise NotConfigured("Freshdesk")
        ticket_id = payload.get("ticket_id")
        if ticket_id is None and payload.get("link_id") is not None:
            async with self.deps.uow() as uow:
                link = await uow.tickets.get(int(payload["link_id"]))
                ticket_id = link.ticket_id if link else None
        if ticket_id is None:
            number = f"INC-{payload.get('incident_id')}"
            raise PermanentDeliveryError(f"{number} has no Freshdesk ticket (creating it failed)")
        return self.client, int(ticket_id)
