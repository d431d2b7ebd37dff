"""The catch-up reply after Teams was unreachable (services/comms/catch_up.py): what changed, in
plain words, oldest first, short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.comms.catch_up import MOST_LINES, catch_up_text
from services.incidents import Person, TimelineEvent

SINCE = datetime(2026, 1, 5, 9, 20, tzinfo=UTC)
ADA = Person("aad-ada", "Ada Lovelace")


def at(minutes: int) -> datetime:
    return SINCE + timedelta(minutes=minutes)


def test_it_says_who_joined_what_changed_and_what_was_posted_and_leaves_out_the_rest() -> None:
    events = [
        TimelineEvent("declared", at(-20), ADA, "declared P1: Checkout down"),  # before the gap: the card says it
        TimelineEvent("commander_changed", at(5), ADA, "Ada Lovelace took command"),
        TimelineEvent("responders_assigned", at(6), ADA, "Ada Lovelace assigned Grace Hopper"),
        TimelineEvent("update_reminder", at(20), None, "responders update due: reminded Ada Lovelace"),
        TimelineEvent("note", at(30), ADA, "rolling back   the\nrelease"),
        TimelineEvent("delivery_failed", at(31), None, "failed to deliver INC-1 card"),
        TimelineEvent("resolved", at(90), ADA, "Ada Lovelace resolved it: rolled back"),
    ]
    text = catch_up_text(events, SINCE, at(100))
    assert text.splitlines() == [
        "While Teams was unreachable (from 09:20 UTC, 1 h 40 min):",
        "- 09:25 Ada Lovelace took command",
        "- 09:26 Ada Lovelace assigned Grace Hopper",
        "- 09:50 Ada Lovelace noted: rolling back the release",
        "- 10:50 Ada Lovelace resolved it: rolled back",
    ]


def test_it_stays_short() -> None:
    events = [TimelineEvent("status_update", at(n), None, "responders update by Beacon (automatic): " + "x" * 500)
              for n in range(30)]
    lines = catch_up_text(events, SINCE, at(40)).splitlines()
    assert len(lines) == MOST_LINES + 2 and lines[-1] == "- and 18 more on the incident's timeline"
    assert all(len(line) <= 210 for line in lines)
    assert catch_up_text([], SINCE, at(40)).splitlines()[1] == "- nothing changed"
