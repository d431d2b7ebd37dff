"""Conferencing through Outlook calendar events with a Teams meeting (GRAPH_MEETING_MODE=events).

POST /users/{organizer}/events with isOnlineMeeting makes Exchange send a normal invitation with
the Teams link to every attendee, including people outside the tenant (clients, vendors,
Microsoft support), and needs no Teams application access policy (facts §1c/§1d).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.attendee import Attendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType
from msgraph.generated.users.item.events.item.event_item_request_builder import EventItemRequestBuilder

from services.dedupe import unique_by
from services.delivery import TransientDeliveryError
from services.graph.errors import PERMISSIONS_DOC, graph_errors, mailbox_access_fix
from services.ports import Meeting, MeetingRequest, Recipient

NO_TEAMS_LINK = ("Graph created event {event_id} for {organizer} but it has no Teams meeting link yet; "
                 "Beacon tries again. If it never gets one, the organizer mailbox needs a Teams licence and "
                 f"teamsForBusiness among its allowed online-meeting providers (see {PERMISSIONS_DOC})")


def link_waits(backoff_seconds: float) -> tuple[float, ...]:
    """How long to wait before each re-read of a meeting that has no join link yet: Teams fills it in
    a moment after the meeting exists, sometimes seconds later. Bounded (15 x the backoff in all), so
    a delivery never blocks for long; past it the outbox tries again later."""
    return tuple(backoff_seconds * 2 ** step for step in range(4))


def dial_in(number: str | None, conference_id: str | None) -> str | None:
    """One string a phone can dial: number, pause, conference id, #."""
    if not number:
        return None
    return f"{number},,{conference_id}#" if conference_id else number


def graph_time(moment: datetime) -> DateTimeTimeZone:
    """Graph wants wall-clock time plus a zone name; Beacon's times are UTC inside."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return DateTimeTimeZone(date_time=utc.replace(tzinfo=None).isoformat(timespec="seconds"), time_zone="UTC")


def unique_recipients(recipients: Iterable[Recipient]) -> list[Recipient]:
    return unique_by(recipients, lambda recipient: recipient.email)


def attendee(recipient: Recipient) -> Attendee:
    address = EmailAddress(address=recipient.email.strip(), name=recipient.name or None)
    return Attendee(email_address=address, type=AttendeeType.Required)


def event_body(request: MeetingRequest) -> Event:
    return Event(
        subject=request.subject,
        body=ItemBody(content_type=BodyType.Html, content=request.body_html),
        start=graph_time(request.start),
        end=graph_time(request.end),
        attendees=[attendee(r) for r in unique_recipients(request.attendees)],
        is_online_meeting=True,
        online_meeting_provider=OnlineMeetingProviderType.TeamsForBusiness,
        # Graph's documented guard against a retried POST creating a second event.
        transaction_id=request.external_id,
    )


def meeting_from_event(event: Event | None) -> Meeting | None:
    info = event.online_meeting if event else None
    if event is None or not event.id or info is None or not info.join_url:
        return None
    return Meeting(id=event.id, join_url=info.join_url, dial_in=dial_in(info.toll_number, info.conference_id),
                   conference_id=info.conference_id)


EventQuery = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters


def _select(*fields: str) -> RequestConfiguration[EventQuery]:
    query = EventQuery(select=list(fields))
    return RequestConfiguration(query_parameters=query)


class EventsConferencing:
    """The Conferencing port as calendar events in the organizer's mailbox."""

    def __init__(self, client: GraphServiceClient, organizer: str, waits: Sequence[float] = link_waits(0.5)) -> None:
        self._organizer = organizer
        self._waits = tuple(waits)
        self._events = client.users.by_user_id(organizer).events
        self._denied_fix = mailbox_access_fix("Calendars.ReadWrite", f"organizer ({organizer})")

    async def create_meeting(self, request: MeetingRequest) -> Meeting:
        with graph_errors(f"create meeting event for {self._organizer}", access_denied_fix=self._denied_fix):
            event = await self._events.post(event_body(request))
            meeting = meeting_from_event(event)
            event_id = event.id if event is not None and event.id else ""
            for wait in self._waits if event_id else ():
                if meeting is not None:
                    break
                await asyncio.sleep(wait)
                meeting = meeting_from_event(await self._events.by_event_id(event_id).get(
                    _select("id", "onlineMeeting")))
        if meeting is None:
            # The retry posts the same transactionId, so it finds this event instead of a second one.
            raise TransientDeliveryError(NO_TEAMS_LINK.format(event_id=event_id or "?", organizer=self._organizer))
        return meeting

    async def invite(self, meeting: Meeting, attendees: tuple[Recipient, ...]) -> None:
        """Adds attendees to the event; Exchange sends the new ones an invitation.

        Read-modify-write of the attendee list: deliveries for one incident are ordered by the
        outbox, so two invites to the same meeting do not race. Already invited people are skipped,
        which makes a retried delivery a no-op.
        """
        if not attendees:
            return
        item = self._events.by_event_id(meeting.id)
        with graph_errors(f"invite to meeting event for {self._organizer}", access_denied_fix=self._denied_fix):
            event = await item.get(_select("attendees"))
            current = [Attendee(email_address=a.email_address, type=a.type)
                       for a in (event.attendees if event and event.attendees else [])]
            known = {(a.email_address.address or "").lower() for a in current if a.email_address}
            added = [attendee(r) for r in unique_recipients(attendees)
                     if r.email.strip().lower() not in known]
            if added:
                await item.patch(Event(attendees=current + added))
