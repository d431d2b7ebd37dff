"""Conferencing through standalone Teams meetings (GRAPH_MEETING_MODE=onlineMeetings).

POST /users/{organizer}/onlineMeetings/createOrGet with externalId = the incident makes a retry
return the same meeting; {organizer} is the object id (services.graph.organizer). Such a meeting
is on no calendar and Graph sends no invitation, so Beacon mails the join link itself through the
Mailer. Needs a Teams application access policy.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence
from datetime import UTC, datetime

from msgraph import GraphServiceClient
from msgraph.generated.models.online_meeting import OnlineMeeting
from msgraph.generated.users.item.online_meetings.create_or_get.create_or_get_post_request_body import (
    CreateOrGetPostRequestBody,
)

from services.delivery import TransientDeliveryError
from services.graph.errors import graph_errors
from services.graph.meetings import dial_in, link_waits, unique_recipients
from services.graph.organizer import OrganizerId
from services.html_text import html_to_text
from services.ports import EmailMessage, Mailer, Meeting, MeetingRequest, Recipient

INVITE_SUBJECT = "Invitation: join the incident bridge (Microsoft Teams)"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


NO_JOIN_URL = "Graph createOrGet answered without a meeting id or join URL yet; Beacon tries again"


def meeting_from_online_meeting(online: OnlineMeeting | None) -> Meeting:
    if online is None or not online.id or not online.join_web_url:
        raise TransientDeliveryError(NO_JOIN_URL)
    audio = online.audio_conferencing
    conference_id = number = None
    if audio is not None:
        # The documented sample spells it "ConferenceId", which the SDK keeps as additional data.
        conference_id = audio.conference_id or audio.additional_data.get("ConferenceId")
        number = audio.toll_number or next(iter(audio.toll_numbers or []), None)
    settings = online.join_meeting_id_settings
    return Meeting(id=online.id, join_url=online.join_web_url,
                   dial_in=dial_in(number, str(conference_id) if conference_id else None),
                   conference_id=str(conference_id) if conference_id else None,
                   passcode=settings.passcode if settings else None)


def join_details_html(meeting: Meeting) -> str:
    url = html.escape(meeting.join_url, quote=True)
    parts = [f'<p><a href="{url}">Join the Microsoft Teams meeting</a></p>']
    if meeting.dial_in:
        parts.append(f"<p>Dial in: {html.escape(meeting.dial_in)}</p>")
    return "".join(parts)


def invitation(subject: str, intro_html: str, meeting: Meeting, to: tuple[Recipient, ...]) -> EmailMessage:
    intro = html_to_text(intro_html)
    text = (f"{intro}\n\n" if intro else "") + f"Join the Microsoft Teams meeting: {meeting.join_url}"
    if meeting.dial_in:
        text += f"\nDial in: {meeting.dial_in}"
    return EmailMessage(to=to, subject=subject, html=intro_html + join_details_html(meeting), text=text)


class OnlineMeetingsConferencing:
    """The Conferencing port as createOrGet online meetings plus invitations by email."""

    def __init__(self, client: GraphServiceClient, organizer: OrganizerId, mailer: Mailer,
                 waits: Sequence[float] = link_waits(0.5)) -> None:
        self._client = client
        self._organizer = organizer
        self._mailer = mailer
        self._waits = tuple(waits)

    async def create_meeting(self, request: MeetingRequest) -> Meeting:
        body = CreateOrGetPostRequestBody(external_id=request.external_id, subject=request.subject,
                                          start_date_time=_utc(request.start),
                                          end_date_time=_utc(request.end))
        meetings = self._client.users.by_user_id(await self._organizer.resolve()).online_meetings
        with graph_errors(f"create online meeting for {self._organizer.configured}"):
            online = await meetings.create_or_get.post(body)
            for wait in self._waits:  # a link not there yet: asking again with the same externalId re-reads it
                if online is not None and online.id and online.join_web_url:
                    break
                await asyncio.sleep(wait)
                online = await meetings.create_or_get.post(body)
        meeting = meeting_from_online_meeting(online)
        recipients = tuple(unique_recipients(request.attendees))
        if recipients:
            await self._mailer.send_mail(invitation(request.subject, request.body_html, meeting, recipients))
        return meeting

    async def invite(self, meeting: Meeting, attendees: tuple[Recipient, ...]) -> None:
        recipients = tuple(unique_recipients(attendees))
        if recipients:
            await self._mailer.send_mail(invitation(INVITE_SUBJECT, "", meeting, recipients))
