"""Shifts from an iCalendar feed: recurring turns across a DST change, who each event names, all-day
and floating times on the schedule's clock, Google's X-WR-TIMEZONE, cancelled and excluded turns,
and a body that is not iCalendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.config import parse_config
from services.paging.feed_parse import FeedUnreadable, parse_feed
from services.paging.shifts import on_call
from tests.e2e.paging_helpers import ADA, GRACE, paging_config

# PagerDuty style: the name in the title, or an ATTENDEE; Europe/London leaves summer time on 25 October 2026.
FEED = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Beacon tests//On call//EN
BEGIN:VEVENT
UID:ada-turns
SUMMARY:On Call - Ada Lovelace - Payments primary
DTSTART;TZID=Europe/London:20261019T090000
DTEND;TZID=Europe/London:20261026T090000
RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4
END:VEVENT
BEGIN:VEVENT
UID:grace-turns
SUMMARY:On Call - Payments primary
ATTENDEE;CN=Grace Hopper:mailto:{GRACE.email.upper()}
DTSTART;TZID=Europe/London:20261026T090000
DTEND;TZID=Europe/London:20261102T090000
RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4
EXDATE;TZID=Europe/London:20261109T090000
END:VEVENT
BEGIN:VEVENT
UID:cancelled
STATUS:CANCELLED
SUMMARY:On Call - Grace Hopper
DTSTART:20261019T000000Z
DTEND:20261020T000000Z
END:VEVENT
BEGIN:VEVENT
UID:stranger
SUMMARY:On Call - Bob Nobody
DTSTART:20261201T090000Z
DTEND:20261208T090000Z
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n").encode()


def schedule_and_config(time_zone: str = "Europe/London"):  # type: ignore[no-untyped-def]
    config = parse_config(paging_config())
    schedule = config.oncall.schedules[0].model_copy(update={"time_zone": time_zone})
    return schedule, config


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_recurring_turns_keep_the_local_handoff_across_the_dst_change_and_name_people_by_title_or_attendee() -> None:
    schedule, config = schedule_and_config()
    parsed = parse_feed(FEED, schedule, config, utc(2026, 10, 1), utc(2027, 1, 1))
    ada, grace = ADA.email.lower(), GRACE.email.lower()
    turns = [(s.person, s.starts_at, s.ends_at) for s in parsed.shifts[:3]]
    # 09:00 in London is 08:00 UTC in summer time and 09:00 UTC after it.
    assert turns == [(ada, utc(2026, 10, 19, 8), utc(2026, 10, 26, 9)),
                     (grace, utc(2026, 10, 26, 9), utc(2026, 11, 2, 9)),
                     (ada, utc(2026, 11, 2, 9), utc(2026, 11, 9, 9))]
    assert all(s.source == "ical" for s in parsed.shifts)
    assert on_call(schedule, utc(2026, 10, 26, 8, 59), feed=parsed.shifts).person == ada  # type: ignore[union-attr]
    assert on_call(schedule, utc(2026, 10, 26, 9), feed=parsed.shifts).person == grace  # type: ignore[union-attr]
    # Grace's turn of 9 November is excluded (EXDATE): nobody from the feed then, not the rotation.
    assert on_call(schedule, utc(2026, 11, 10, 12), feed=parsed.shifts) is None
    # The cancelled event is no turn; the stranger is reported, not guessed.
    assert not any(s.starts_at == utc(2026, 10, 19) for s in parsed.shifts)
    assert parsed.unknown == ("On Call - Bob Nobody",)


def test_google_calendar_all_day_and_floating_events_read_on_the_calendars_or_the_schedules_clock() -> None:
    google = f"""BEGIN:VCALENDAR
VERSION:2.0
X-WR-TIMEZONE:America/New_York
BEGIN:VEVENT
UID:g1
SUMMARY:{GRACE.name} on call
DTSTART:20261103T090000
DTEND:20261104T090000
END:VEVENT
BEGIN:VEVENT
UID:g2
SUMMARY:{ADA.email}
DTSTART;VALUE=DATE:20261105
DTEND;VALUE=DATE:20261106
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n").encode()
    schedule, config = schedule_and_config("Europe/London")
    shifts = parse_feed(google, schedule, config, utc(2026, 11, 1), utc(2026, 12, 1)).shifts
    # X-WR-TIMEZONE names the calendar's zone for its floating times (New York: UTC-5 in November).
    assert (shifts[0].person, shifts[0].starts_at) == (GRACE.email.lower(), utc(2026, 11, 3, 14))
    # An all-day turn is the day on the schedule's clock.
    assert (shifts[1].person, shifts[1].starts_at, shifts[1].ends_at) == (
        ADA.email.lower(), utc(2026, 11, 5), utc(2026, 11, 6))


@pytest.mark.parametrize("body", [b"<html>Sign in</html>", b"", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:nonsense"])
def test_a_body_that_is_not_icalendar_is_refused_with_the_reason(body: bytes) -> None:
    schedule, config = schedule_and_config()
    with pytest.raises(FeedUnreadable, match="iCalendar"):
        parse_feed(body, schedule, config, utc(2026, 10, 1), utc(2027, 1, 1))
