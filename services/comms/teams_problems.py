"""When Teams refuses Beacon's posts for good, say so through Beacon's other channels.

A 403 (Beacon is not in the team, or was removed), a 404 (the channel or chat is gone) or a 400
(Teams calls the post invalid, e.g. a channel id that is not one) will not go away by retrying,
and nobody reads a thread Beacon cannot post to. So the first refusal of a conversation since it
last worked is noted (uow.teams_problems), the incident admins get one email naming the fix, the
incident's timeline says so, and `python app.py doctor` shows a line until the conversation
works again or Beacon is installed there again.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from services.config import BeaconConfig
from services.effects.messages import SendEmail
from services.incidents import TimelineEvent
from services.paging.directory import find_person
from services.store.uow import UnitOfWork

# Teams answers these for good; others (401 is a credentials problem, told at start-up) fail as usual.
REFUSALS = (400, 403, 404)


@dataclass(frozen=True)
class Refusal:
    conversation_id: str  # the channel (a thread's "…;messageid=…" is cut off) or chat
    status: int
    detail: str  # what Teams said
    team_name: str = ""


def channel_of(conversation_id: str) -> str:
    """A channel and its threads are one conversation to Teams: name the channel."""
    return conversation_id.partition(";messageid=")[0]


def setting_for(config: BeaconConfig, conversation_id: str) -> str:
    """The setting that points Beacon at this channel, if one does."""
    for name in ("incidents_channel", "stakeholder_channel", "triage_channel"):
        if getattr(config.channels, name) and getattr(config.channels, name) == conversation_id:
            return f"channels.{name}"
    return ""


def explain(refusal: Refusal, config: BeaconConfig) -> tuple[str, str]:
    """What went wrong and what to do, in the words of the person who can fix it."""
    team = f"team {refusal.team_name}" if refusal.team_name else "the team that holds it"
    setting = setting_for(config, refusal.conversation_id)
    elsewhere = f" or change {setting}" if setting else ""
    if refusal.status == 403:
        return (f"Teams refused Beacon's posts to {refusal.conversation_id}: Beacon is not installed in {team} "
                f"(it was removed, or never added)", f"add Beacon to {team} again{elsewhere}")
    if refusal.status == 404:
        return (f"Teams does not know the conversation {refusal.conversation_id} (the channel or chat was "
                f"deleted, or the id is wrong)", f"change {setting} to an existing channel" if setting
                else "post in an existing channel")
    return (f"Teams refused a post to {refusal.conversation_id} as invalid ({refusal.status}): {refusal.detail}",
            f"check {setting}: a channel id looks like 19:…@thread.tacv2" if setting
            else "check the channel id Beacon was given")


async def teams_refused(uow: UnitOfWork, refusal: Refusal, incident_id: int | None, config: BeaconConfig,
                        now: datetime) -> None:
    """Note the refusal; the first one since the conversation last worked emails the incident
    admins (each once: the key names the conversation and when the problem began) and goes on the
    incident's timeline."""
    problem, fix = explain(refusal, config)
    first = await uow.teams_problems.record(refusal.conversation_id, status=refusal.status, problem=problem,
                                            fix=fix, incident_id=incident_id, now=now)
    if not first:
        return
    admins = [person for person in (find_person(config, aad) for aad in config.roles.incident_admins)
              if person is not None and person.email]
    since = now.strftime("%Y%m%dT%H%M%S")
    text = f"{problem}.\n\nTo fix it: {fix}.\n\nBeacon keeps emailing, texting and paging meanwhile."
    page = (f"<div style='font-family:Segoe UI,Arial,sans-serif;font-size:15px;max-width:600px'>"
            f"<h2 style='font-size:18px'>Beacon cannot post to Teams</h2><p>{html.escape(problem)}.</p>"
            f"<p><b>To fix it:</b> {html.escape(fix)}.</p>"
            f"<p style='color:#555'>Beacon keeps emailing, texting and paging meanwhile.</p></div>")
    await uow.outbox.add_many([
        SendEmail(incident_id, f"teams-refused:{refusal.conversation_id}:{since}", person.email, person.name,
                  "Beacon cannot post to Teams: " + fix, page, text, f"Teams problem email to {person.email}")
        for person in admins], now=now)
    if incident_id is not None:
        told = (f"incident admins told by email ({', '.join(p.email for p in admins)})" if admins else
                "no incident admin has an email address in the directory to tell")
        incident = await uow.incidents.get(incident_id)
        await uow.timeline.record(incident_id, TimelineEvent("teams_refused", now, None,
                                                             f"{problem}; {told}. Fix: {fix}",
                                                             after={"conversation": refusal.conversation_id,
                                                                    "status": refusal.status}),
                                  incident.version if incident is not None else 0)
