"""What `@Beacon oncall` shows: for each schedule, who is on call now and until when, who takes
over next, and the overrides in force or to come with who made them. Pure: the config, the
stored overrides, the feeds' shifts and the instant come in, a view model goes out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.config import BeaconConfig
from services.paging.directory import FeedShifts, find_person, no_feeds
from services.paging.shifts import Override, next_handoff, on_call


@dataclass(frozen=True)
class OverrideLine:
    id: int
    person: str  # the person's name as the directory knows it (their key when it does not)
    starts_at: datetime
    ends_at: datetime
    created_by: str


@dataclass(frozen=True)
class ScheduleView:
    name: str
    time_zone: str
    person: str  # who is on call now ("" when nobody is)
    source: str  # rotation | override | ical
    until: datetime | None  # when their turn ends as things stand
    next_person: str
    next_at: datetime | None  # the next handoff to someone else (None: none within the horizon)
    overrides: tuple[OverrideLine, ...]


def _name(config: BeaconConfig, key: str) -> str:
    found = find_person(config, key)
    return (found.name or found.key) if found else key


def schedule_views(config: BeaconConfig, now: datetime, overrides: Sequence[Override],
                   feeds: FeedShifts = no_feeds) -> list[ScheduleView]:
    views = []
    for schedule in config.oncall.schedules:
        feed = feeds(schedule.name)
        current = on_call(schedule, now, overrides, feed)
        following = next_handoff(schedule, now, overrides, feed)
        lines = tuple(OverrideLine(o.id, _name(config, o.person), o.starts_at, o.ends_at, o.created_by or "Beacon")
                      for o in sorted(overrides, key=lambda o: (o.starts_at, o.id))
                      if o.schedule == schedule.name and o.ends_at > now)
        views.append(ScheduleView(
            schedule.name, schedule.time_zone, _name(config, current.person) if current else "",
            current.source if current else "", current.ends_at if current else None,
            _name(config, following.person) if following else "", following.starts_at if following else None,
            lines))
    return views


def reader_zone(value: str) -> ZoneInfo | None:
    """The reader's IANA zone as Teams sends it in the clientInfo entity; None when absent or unknown."""
    try:
        return ZoneInfo(value) if value else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(moment: datetime, zone: str | ZoneInfo) -> str:
    """A moment on a given clock: "Mon 7 Dec 09:00 GMT"."""
    local = moment.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"
