"""Every ordering key of the outbox, in one place.

Effects that share an ordering key go out one at a time, in the order they were queued, and a
retry holds back the ones behind it. So a key is as narrow as the order that matters:
- an incident's Teams posts share one (the root card first, then updates and notes in order);
- its stakeholder-channel thread has its own, so a missing stakeholder channel holds back nothing else;
- each email address and phone number has its own, so one bad recipient delays nobody else;
- Graph work on the bridge (create, then invite) shares one, calls another, and neither ever holds
  back the incident's Teams posts;
- an incident's Freshdesk effects share one, so an update never overtakes the ticket's creation.
- a page has a key per incident, person and method: a page never waits behind the incident's Teams
  thread (paging works while Teams is down), nor one method behind another, nor one person behind
  another.
"""

from __future__ import annotations

import hashlib


def incident_teams(incident_id: int | None) -> str:
    return f"incident:{incident_id}:teams"


def incident_stakeholders(incident_id: int | None) -> str:
    return f"incident:{incident_id}:stakeholders"


def incident_email(incident_id: int | None, address: str) -> str:
    return f"incident:{incident_id}:email:{address.lower()}"


def incident_sms(incident_id: int | None, number: str) -> str:
    return f"incident:{incident_id}:sms:{number}"


def incident_page(incident_id: int, person: str, method: str) -> str:
    return f"incident:{incident_id}:page:{method}:{person.lower()}"


def incident_bridge(incident_id: int) -> str:
    return f"incident:{incident_id}:bridge"


def incident_calls(incident_id: int) -> str:
    return f"incident:{incident_id}:calls"


def incident_freshdesk(incident_id: int) -> str:
    return f"incident:{incident_id}:freshdesk"


def freshdesk_ticket(ticket_id: int) -> str:
    """A ticket that belongs to no incident (a dismissed report)."""
    return f"freshdesk:ticket:{ticket_id}"


def reported_issue(ticket_id: int) -> str:
    """The Reported issue card of a Freshdesk ticket: its post before its redraws."""
    return f"report:{ticket_id}"


def review_event(incident_id: int) -> str:
    return f"incident:{incident_id}:review-event"


def unordered(kind: str, key: str) -> str:
    """An effect that waits for nothing else: a key of its own."""
    return f"{kind}:{key}"


def incident_any(incident_id: int) -> str:
    """An incident's effects queued without a narrower key (raw rows): one after another."""
    return f"incident:{incident_id}"


def team_roster(team_id: str) -> str:
    """Reading a team's roster: one read at a time per team (ids are long: hashed to fit the column)."""
    return f"roster:{_short(team_id)}"


def roster_member(team_id: str, user_id: str) -> str:
    """Looking one person up: never behind a whole team's read."""
    return f"roster:{_short(team_id)}:member:{_short(user_id)}"


def _short(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:20]


def channel_kinds(team_id: str) -> str:
    """Asking Graph which kind each configured channel is, after an install in a team."""
    return f"channel-kinds:{_short(team_id)}"


def install(conversation_id: str) -> str:
    """What Beacon sends where it was installed (its hello)."""
    return f"install:{_short(conversation_id)}"


def status_subscriber(subscription: int) -> str:
    """A status page's subscriber: its confirmation and updates in order, behind nobody else's."""
    return f"status-subscription:{subscription}"


def incident_channel(incident_id: int) -> str:
    """An incident's dedicated channel: made, then archived, one after the other (Graph)."""
    return f"incident:{incident_id}:channel"


def incident_channel_posts(incident_id: int) -> str:
    """The posts in an incident's dedicated channel (Teams), never behind its main thread."""
    return f"incident:{incident_id}:channel:teams"
