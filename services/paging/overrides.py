"""Making someone on call for a schedule until a time, and removing that again: checked first (the
schedule exists, the person is in the directory, the end is a real future time on the schedule's
clock), then stored with its audit entry (who, when, who was on call before and after) in one
transaction. Bad input changes nothing; a redelivered Teams message is applied once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.config import BeaconConfig
from services.deps import Deps
from services.incidents import Person, ValidationFailed
from services.paging.config import ScheduleEntry
from services.paging.directory import Pager, find_person
from services.paging.shifts import Override, on_call

LONGEST = timedelta(days=90)  # a longer cover is a change to the rota, which belongs in the config
WHEN_EXAMPLES = "“2026-12-07 09:00”, “tomorrow 09:00”, “18:00” or “2026-12-07” (that day's handoff)"
_DATE = r"(\d{4}-\d{2}-\d{2})"
_TIME = r"(\d{1,2}):(\d{2})"


class OverrideRefused(ValidationFailed):
    """A request to override that changes nothing; `field` names the form field at fault."""


@dataclass(frozen=True)
class OverrideDone:
    override: Override
    person: Pager
    replaced: str  # who was on call before, as the directory names them ("" for nobody)
    applied: bool = True  # False when this Teams message was applied before


def schedule_named(config: BeaconConfig, name: str) -> ScheduleEntry:
    if not name.strip():
        raise OverrideRefused("schedule", "Choose a schedule.")
    schedule = config.oncall.schedule(name.strip())
    if schedule is None:
        known = ", ".join(s.name for s in config.oncall.schedules) or "none are configured"
        raise OverrideRefused("schedule", f"There is no on-call schedule named “{name.strip()[:80]}” "
                                          f"(schedules: {known}).")
    return schedule


def directory_person(config: BeaconConfig, key: str, shown: str = "") -> Pager:
    if not key.strip() and not shown:
        raise OverrideRefused("person", "Choose who covers the schedule (a person in the directory).")
    person = find_person(config, key) if key else None
    if person is None:
        raise OverrideRefused("person", f"{(shown or key or 'Nobody')[:80]} is not in the directory "
                                        "(directory.teams in the Beacon config), so Beacon could not page them.")
    return person


def _wall(text: str, schedule: ScheduleEntry, today: date) -> datetime | None:
    """A local wall time from what was typed, or None when it does not read as one."""
    words = text.strip().lower()
    if match := re.fullmatch(_DATE + r"(?:\s+|t)" + _TIME, words):
        day, hour, minute = date.fromisoformat(match[1]), int(match[2]), int(match[3])
    elif match := re.fullmatch(_DATE, words):
        day, hour, minute = date.fromisoformat(match[1]), schedule.handoff.hour, schedule.handoff.minute
    elif match := re.fullmatch(r"(today|tomorrow)(?:\s+(?:at\s+)?" + _TIME + ")?", words):
        day = today + timedelta(days=1 if match[1] == "tomorrow" else 0)
        hour, minute = (int(match[2]), int(match[3])) if match[2] else (schedule.handoff.hour, schedule.handoff.minute)
    elif match := re.fullmatch(_TIME, words):
        day, hour, minute = today, int(match[1]), int(match[2])
    else:
        return None
    if hour > 23 or minute > 59:
        return None
    return datetime.combine(day, time(hour, minute))


def parse_until(text: str, schedule: ScheduleEntry, now: datetime) -> datetime:
    """The end of an override, typed on the schedule's clock, as a UTC instant."""
    zone = ZoneInfo(schedule.time_zone)
    typed = " ".join(text.split())
    if not typed:
        raise OverrideRefused("until", f"Give the end of the override on {schedule.name}'s clock "
                                       f"({schedule.time_zone}), e.g. {WHEN_EXAMPLES}.")
    try:
        wall = _wall(typed, schedule, now.astimezone(zone).date())
    except ValueError:  # 2026-02-30
        wall = None
    if wall is None:
        raise OverrideRefused("until", f"“{typed[:60]}” is not a date and time Beacon understands. Write it on "
                                       f"{schedule.name}'s clock ({schedule.time_zone}), e.g. {WHEN_EXAMPLES}.")
    if re.fullmatch(_TIME, typed) and wall.replace(tzinfo=zone) <= now:
        wall += timedelta(days=1)  # "18:00" typed after 18:00 means tomorrow's
    moment = wall.replace(tzinfo=zone).astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != wall:
        raise OverrideRefused("until", f"{wall:%Y-%m-%d %H:%M} does not exist in {schedule.time_zone}: the clocks "
                                       "go forward then. Pick a time an hour later.")
    if moment <= now:
        raise OverrideRefused("until", f"{wall:%Y-%m-%d %H:%M} ({schedule.time_zone}) is in the past: an override "
                                       "starts now and must end later.")
    if moment - now > LONGEST:
        raise OverrideRefused("until", f"An override lasts at most {LONGEST.days} days; for longer, change "
                                       f"{schedule.name}'s rotation in the config.")
    return moment


def _name(config: BeaconConfig, key: str | None) -> str:
    found = find_person(config, key) if key else None
    return (found.name or found.key) if found else (key or "")


async def add_override(deps: Deps, schedule_name: str, person_key: str, until: str, actor: Person, *,
                       activity_id: str = "", person_shown: str = "") -> OverrideDone:
    schedule = schedule_named(deps.config, schedule_name)
    person = directory_person(deps.config, person_key, person_shown)
    now = deps.clock.now()
    ends_at = parse_until(until, schedule, now)
    async with deps.uow() as uow:
        await uow.write_first()
        if activity_id and not await uow.activities.mark_processed(activity_id, None, now):
            return OverrideDone(Override(schedule.name, person.key, now, ends_at, now), person, "", applied=False)
        current = await uow.oncall_overrides.active(now, [schedule.name])
        before = on_call(schedule, now, current, deps.shift_feeds(schedule.name))
        override = await uow.oncall_overrides.add(schedule.name, person.key, now, ends_at, actor=actor, now=now,
                                                  details={"before": before.person if before else "",
                                                           "after": person.key})
        await uow.commit()
    return OverrideDone(override, person, _name(deps.config, before.person if before else None))


async def clear_overrides(deps: Deps, schedule_name: str, actor: Person, *, override_id: int | None = None,
                          activity_id: str = "") -> list[Override]:
    """Remove one override (by id) or every one of the schedule not yet over; the removed ones."""
    schedule = schedule_named(deps.config, schedule_name)
    now = deps.clock.now()
    async with deps.uow() as uow:
        await uow.write_first()
        if activity_id and not await uow.activities.mark_processed(activity_id, None, now):
            return []
        active = await uow.oncall_overrides.active(now, [schedule.name])
        chosen = [o for o in active if override_id is None or o.id == override_id]
        if not chosen:
            what = "That override is already over or removed" if override_id else \
                f"{schedule.name} has no override to remove"
            raise OverrideRefused("schedule", f"{what}; nothing changed.")
        feed = deps.shift_feeds(schedule.name)
        before = on_call(schedule, now, active, feed)
        after = on_call(schedule, now, [o for o in active if o not in chosen], feed)
        details = {"before": before.person if before else "", "after": after.person if after else ""}
        removed = [o for o in [await uow.oncall_overrides.cancel(o.id, actor=actor, now=now, details=details)
                               for o in chosen] if o]
        await uow.commit()
    return removed
