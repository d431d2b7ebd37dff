"""The doctor's lines for schedules fed by an iCalendar URL: each feed fetched now and read as
paging would read it, with who it puts on call now; a failure names the fix and reminds that
paging keeps to the last good copy (or the rotation, before there is one)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from services.clock import SystemClock
from services.config import BeaconConfig
from services.paging.directory import find_person
from services.paging.feed_parse import FeedUnreadable, parse_feed
from services.paging.feeds import LOOK_AHEAD, FeedFetchFailed, FeedSettings, feed_client, fetch_feed, shown
from services.paging.shifts import on_call


async def feed_checks(config: BeaconConfig, settings: FeedSettings,
                      transport: Any = None) -> list[tuple[str, str, str]]:
    """(outcome, detail, fix) per fed schedule: "ok" or "fail"."""
    lines: list[tuple[str, str, str]] = []
    fed = [s for s in config.oncall.schedules if s.ical_url]
    if not fed:
        return lines  # no HTTP client to build: its TLS context alone holds the event loop ~0.1 s
    now = SystemClock().now()
    # Off the event loop: making the client reads the CA bundle into a TLS context (0.1 s of CPU, more
    # for a process's first), and the first parse loads the iCalendar libraries.
    async with await asyncio.to_thread(feed_client, settings, transport) as http:
        for schedule in fed:
            where = f"{schedule.name} ({shown(schedule.ical_url)})"
            try:
                body, _, _ = await fetch_feed(http, schedule.ical_url)
                parsed = await asyncio.to_thread(parse_feed, body, schedule, config, now - timedelta(days=1),
                                                 now + LOOK_AHEAD)
            except (FeedFetchFailed, FeedUnreadable) as error:
                lines.append(("fail", f"{where}: {error}",
                              f"check oncall.schedules '{schedule.name}'.ical_url (the calendar's secret iCal "
                              "address) and that Beacon can reach it; paging uses the last good copy meanwhile"))
                continue
            shift = on_call(schedule, now, feed=parsed.shifts)
            person = find_person(config, shift.person) if shift is not None else None
            who = f"on call now: {person.name or person.key}" if person else "nobody on call now"
            detail = f"{where}: {len(parsed.shifts)} turns in the next {LOOK_AHEAD.days} days, {who}"
            if parsed.unknown:
                lines.append(("fail", f"{detail}; events naming nobody in the directory: "
                              f"{', '.join(repr(u) for u in parsed.unknown[:3])}",
                              "add those people to the directory (with their email), or correct the calendar"))
            else:
                lines.append(("ok", detail, ""))
    return lines
