"""The one-line replies in an incident's thread that say who did what, from its timeline events.

A status update and a resolution have cards of their own in the thread (the resolution card names
who resolved it), so they get no line: the thread never says the same thing twice. A note says
whose it is.
"""

from __future__ import annotations

from services.incidents import Incident, Status, TimelineEvent

SAID_BY_A_CARD = frozenset({"status_update"})


def thread_line(event: TimelineEvent, incident: Incident) -> str:
    """The line for one event; "" when the thread shows it otherwise."""
    if event.kind in SAID_BY_A_CARD:
        return ""
    if event.kind == "resolved" and incident.status is Status.RESOLVED:
        return ""  # the resolution notice is posted in the thread in the same transaction
    if event.kind == "note":
        author = event.actor.name if event.actor and event.actor.name else "Someone"
        return f"{author} noted: {event.summary}"
    return event.summary


def thread_lines(events: list[TimelineEvent], incident: Incident) -> list[str]:
    return [line for line in (thread_line(e, incident) for e in events) if line]
