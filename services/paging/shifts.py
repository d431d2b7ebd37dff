"""Who is on call at an instant: pure shift arithmetic, no I/O, no clock reads.

A rotation's turns follow local wall time in the schedule's IANA zone: turn k starts at
`start` + `handoff` + k × `shift` on the local clock, so a weekly 09:00 handoff stays at 09:00 across
a DST change (that turn is an hour shorter or longer in real time), as people expect of a rota.
Feed shifts (an iCalendar export, services/paging feeds) replace the rotation when a copy exists;
overrides beat both, the latest made winning where two overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.paging.config import ScheduleEntry


@dataclass(frozen=True)
class Shift:
    """One person's turn: [starts_at, ends_at) in UTC; `source` is rotation, override or ical."""

    person: str
    starts_at: datetime
    ends_at: datetime
    source: str = "rotation"

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class Override:
    """Someone covers a schedule for a while (stored in the database, audited)."""

    schedule: str
    person: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    id: int = 0
    created_by: str = ""

    def as_shift(self) -> Shift:
        return Shift(self.person, self.starts_at, self.ends_at, "override")


def _local(naive: datetime, zone: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant. In a spring-forward gap the wall time does not exist:
    fold=0 reads it with the offset before the change, i.e. the turn starts at the change itself
    or just after it, never an hour early."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def rotation_shift(schedule: ScheduleEntry, at: datetime, offset: int = 0) -> Shift | None:
    """The rotation's turn covering `at` (or `offset` turns after it); None before the first turn
    or when the schedule rotates nobody."""
    if not schedule.people:
        return None
    zone = ZoneInfo(schedule.time_zone)
    origin = datetime.combine(schedule.start, schedule.handoff)
    wall = at.astimezone(zone).replace(tzinfo=None)
    index = (wall - origin) // schedule.shift
    # The wall clock repeats an hour at a fall-back change: check the instant, not only the clock.
    while index > 0 and _local(origin + index * schedule.shift, zone) > at:
        index -= 1
    while _local(origin + (index + 1) * schedule.shift, zone) <= at:
        index += 1
    index += offset
    if index < 0:
        return None
    return Shift(schedule.people[index % len(schedule.people)], _local(origin + index * schedule.shift, zone),
                 _local(origin + (index + 1) * schedule.shift, zone))


def _feed_shift(feed: Sequence[Shift], at: datetime) -> Shift | None:
    covering = [s for s in feed if s.covers(at)]
    return max(covering, key=lambda s: s.starts_at) if covering else None


def _override(overrides: Sequence[Override], schedule: str, at: datetime) -> Override | None:
    covering = [o for o in overrides if o.schedule == schedule and o.starts_at <= at < o.ends_at]
    return max(covering, key=lambda o: (o.created_at, o.id)) if covering else None


def on_call(schedule: ScheduleEntry, at: datetime, overrides: Sequence[Override] = (),
            feed: Sequence[Shift] | None = None) -> Shift | None:
    """Who is on call for `schedule` at `at`, and for how long as things stand."""
    override = _override(overrides, schedule.name, at)
    if override is not None:
        return override.as_shift()
    base = _feed_shift(feed, at) if feed is not None else rotation_shift(schedule, at)
    if base is None:
        return None
    # The turn ends early where an override begins within it.
    cut = min((o.starts_at for o in overrides if o.schedule == schedule.name and base.starts_at < o.starts_at
               < base.ends_at and o.starts_at > at), default=base.ends_at)
    return Shift(base.person, base.starts_at, cut, base.source)


def next_handoff(schedule: ScheduleEntry, at: datetime, overrides: Sequence[Override] = (),
                 feed: Sequence[Shift] | None = None, *, horizon: timedelta = timedelta(days=400)) -> Shift | None:
    """The next time someone else takes over, and who (None when nobody will within `horizon`)."""
    now = on_call(schedule, at, overrides, feed)
    moment = at
    for _ in range(1000):
        current = on_call(schedule, moment, overrides, feed)
        end = current.ends_at if current is not None else _next_start(schedule, moment, overrides, feed)
        if end is None or end - at > horizon:
            return None
        following = on_call(schedule, end, overrides, feed)
        if following is not None and (now is None or following.person != now.person):
            return following
        moment = end
    return None


def _next_start(schedule: ScheduleEntry, at: datetime, overrides: Sequence[Override],
                feed: Sequence[Shift] | None) -> datetime | None:
    """While nobody is on call: when someone next is."""
    starts = [o.starts_at for o in overrides if o.schedule == schedule.name and o.starts_at > at]
    if feed is not None:
        starts += [s.starts_at for s in feed if s.starts_at > at]
    else:
        first = rotation_shift(schedule, datetime.combine(schedule.start, schedule.handoff).replace(
            tzinfo=ZoneInfo(schedule.time_zone)).astimezone(UTC) + timedelta(seconds=1))
        if first is not None and first.starts_at > at:
            starts.append(first.starts_at)
    return min(starts, default=None)
