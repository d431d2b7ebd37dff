"""Shifts from an iCalendar feed (RFC 5545), as Opsgenie, PagerDuty and Google Calendar export an
on-call schedule: pure, no I/O.

Each event is a turn. Its person is found in the directory by, in order: an ATTENDEE's mailto
address, an email address in its SUMMARY or DESCRIPTION (PagerDuty and Opsgenie name the user
there), or a directory person's name in its SUMMARY ("On call: Ada Lovelace"). Recurring events
are expanded with recurring-ical-events (RRULE, RDATE, EXDATE and moved occurrences, which are
easy to get wrong by hand), which also honours Google's X-WR-TIMEZONE; times without a
zone and all-day events are read on the schedule's clock. Cancelled events are no turn. Events
that name nobody Beacon knows are counted and named in the feed's health, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from services.config import BeaconConfig
from services.paging.config import ScheduleEntry
from services.paging.directory import Pager, pager
from services.paging.shifts import Shift

if TYPE_CHECKING:
    import icalendar

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
MAX_SHIFTS = 5000  # a feed that expands to more in the window is not an on-call schedule


class FeedUnreadable(ValueError):
    """The body is not an iCalendar file Beacon can read; the message says why."""


@dataclass(frozen=True)
class ParsedFeed:
    shifts: tuple[Shift, ...]
    events: int  # occurrences in the window
    unknown: tuple[str, ...] = field(default=())  # summaries of events that name nobody in the directory


def parse_feed(body: bytes, schedule: ScheduleEntry, config: BeaconConfig, start: datetime,
               end: datetime) -> ParsedFeed:
    """The turns of the feed between `start` and `end` (UTC), sorted by start."""
    if not body.lstrip(b"\xef\xbb\xbf \r\n\t").upper().startswith(b"BEGIN:VCALENDAR"):
        raise FeedUnreadable("not an iCalendar file: it does not start with BEGIN:VCALENDAR")
    # Loaded on the first feed read (in a worker thread, see feeds.py), not at start-up: a Beacon
    # whose schedules have no ical_url never loads the two libraries (about 100 modules).
    import icalendar
    import recurring_ical_events

    try:
        calendar = icalendar.Calendar.from_ical(body)
        occurrences = recurring_ical_events.of(calendar).between(start, end)
    except Exception as error:  # the libraries raise ValueError, KeyError, … on malformed input
        raise FeedUnreadable(f"not an iCalendar file Beacon can read: {type(error).__name__}: "
                             f"{str(error)[:200]}") from None
    zone = ZoneInfo(schedule.time_zone)
    people = _people(config)
    shifts: list[Shift] = []
    unknown: list[str] = []
    events = 0
    for event in occurrences:
        if event.name != "VEVENT" or str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        events += 1
        span = _span(event, zone)
        if span is None:
            continue
        person = _person(event, people)
        if person is None:
            unknown.append(str(event.get("SUMMARY", "(no title)"))[:80])
            continue
        shifts.append(Shift(person.key, span[0], span[1], "ical"))
        if len(shifts) > MAX_SHIFTS:
            raise FeedUnreadable(f"more than {MAX_SHIFTS} turns between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
    return ParsedFeed(tuple(sorted(shifts, key=lambda s: (s.starts_at, s.person))), events,
                      tuple(dict.fromkeys(unknown)))


def _people(config: BeaconConfig) -> list[Pager]:
    return [pager(entry) for entry in config.directory_people()]


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):  # an all-day event: the day on the schedule's clock
        value = datetime.combine(value, time())
    if value.tzinfo is None:  # "floating" time: the schedule's clock
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _span(event: icalendar.Event, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    if event.get("DTSTART") is None:
        return None
    begin = event["DTSTART"].dt
    if event.get("DTEND") is not None:
        finish = event["DTEND"].dt
    elif event.get("DURATION") is not None:
        finish = begin + event["DURATION"].dt
    else:  # RFC 5545: a day for an all-day event, an instant otherwise
        finish = begin + timedelta(days=1) if not isinstance(begin, datetime) else begin
    starts, ends = _instant(begin, zone), _instant(finish, zone)
    return (starts, ends) if ends > starts else None


def _person(event: icalendar.Event, people: Sequence[Pager]) -> Pager | None:
    attendees = event.get("ATTENDEE") or []
    attendees = attendees if isinstance(attendees, list) else [attendees]
    emails = [str(a).removeprefix("mailto:").removeprefix("MAILTO:") for a in attendees]
    text = f"{event.get('SUMMARY', '')}\n{event.get('DESCRIPTION', '')}"
    emails += EMAIL.findall(text)
    by_email = {p.email.lower(): p for p in people if p.email}
    for email in emails:
        if email.lower() in by_email:
            return by_email[email.lower()]
    summary = str(event.get("SUMMARY", "")).casefold()
    named = [p for p in people if p.name and re.search(rf"(?<!\w){re.escape(p.name.casefold())}(?!\w)", summary)]
    return max(named, key=lambda p: len(p.name)) if named else None
