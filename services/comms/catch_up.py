"""The catch-up reply: what changed in an incident while Teams was unreachable, said once.

After a long gap (TEAMS_CATCH_UP_AFTER) the thread posts that piled up behind an outage (timed
updates, reminders to post them, one-line notes) are stale: replayed one by one they would bury
the thread in an hour-old "update due" and trip Teams' per-conversation limits. So the first of
them becomes one catch-up reply, written from the incident's timeline since it was queued, and
the others are marked skipped. The fold is one transaction (the rows are skipped only together
with the catch-up taking the first one's place), and it runs again on each attempt while Teams
stays away, so posts queued meanwhile join the same catch-up. The root card is left to its own
redraws, which render the incident as it is at delivery.
"""

from __future__ import annotations

from datetime import datetime

from services.durations import span
from services.effects.teams import ThreadCard, ThreadCatchUp, ThreadNote
from services.incidents import TimelineEvent
from services.store.uow import UnitOfWork

# The thread posts a catch-up replaces (mentions, form replacements and card redraws keep theirs).
FOLDED = (ThreadNote.kind, ThreadCard.kind)
HEADING = "While Teams was unreachable"
# What a reader of the thread needs to know changed: status, updates posted, who joined.
SAID = frozenset({"acknowledged", "commander_changed", "responders_assigned", "priority_changed",
                  "status_changed", "reopened", "resolved", "closed", "note", "status_update", "escalated",
                  "alert_joined", "alert_resolved"})
MOST_LINES = 12
LONGEST_LINE = 200
SKIPPED = "replaced by the catch-up reply after Teams was unreachable"


def catch_up_text(events: list[TimelineEvent], since: datetime, now: datetime) -> str:
    """A few plain lines, oldest first: when the gap began and how long it lasted, then what
    changed meanwhile, each line with its time (UTC)."""
    said = [e for e in events if e.kind in SAID and e.at >= since]
    lines = [f"{HEADING} (from {since:%H:%M} UTC, {span(now - since)}):"]
    for event in said[:MOST_LINES]:
        summary = " ".join(event.summary.split())
        if event.kind == "note":
            author = event.actor.name if event.actor and event.actor.name else "Someone"
            summary = f"{author} noted: {summary}"
        if len(summary) > LONGEST_LINE:
            summary = summary[:LONGEST_LINE - 1] + "…"
        lines.append(f"- {event.at:%H:%M} {summary}")
    if len(said) > MOST_LINES:
        lines.append(f"- and {len(said) - MOST_LINES} more on the incident's timeline")
    if not said:
        lines.append("- nothing changed")
    return "\n".join(lines)


async def fold_catch_up(uow: UnitOfWork, effect_id: int, incident_id: int, since: datetime,
                        now: datetime) -> str:
    """Make row `effect_id` the incident's catch-up reply, skip the thread posts piled up behind
    it, and return the reply's text (the caller commits, then posts it)."""
    catch_up = ThreadCatchUp(incident_id, since.isoformat(), "catch-up reply after Teams was unreachable")
    await uow.outbox.fold_into(effect_id, catch_up, kinds=FOLDED, now=now, why=SKIPPED)
    return catch_up_text(await uow.timeline.since(incident_id, since), since, now)
