""""Impact started at" on the declare form: a date and a time on the declarer's own clock.

Teams' date and time pickers send wall-clock values ("2026-03-01", "02:51") with no zone; the
declarer's zone comes in the activity's clientInfo entity. Without a zone the values are read
as UTC and the card shows the result in each reader's own time, so a mistake is visible at once.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.incidents import ValidationFailed

FIELD = "impact_started_at"
MAX_AGE = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock a little ahead is not "the future"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _parse_date(value: str) -> date:
    try:
        if _DATE.match(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValidationFailed(FIELD, f"impact start date {value[:20]!r} is not a date (YYYY-MM-DD)")


def _parse_time(value: str) -> time:
    try:
        if _TIME.match(value):
            return time.fromisoformat(value.zfill(5) if len(value) == 4 else value)
    except ValueError:
        pass
    raise ValidationFailed(FIELD, f"impact start time {value[:20]!r} is not a time (HH:MM)")


def impact_started_at(raw_date: object, raw_time: object, *, now: datetime, zone: str) -> datetime | None:
    """The moment the impact started, in UTC; None when the form left it empty. A time alone is
    the latest such time not after now (00:10 with "23:50" means yesterday evening)."""
    day, clock = str(raw_date or "").strip(), str(raw_time or "").strip()
    if not day and not clock:
        return None
    if not clock:
        raise ValidationFailed(FIELD, "give the time the impact started, not only the date")
    at, where = _parse_time(clock), _zone(zone)
    local_now = now.astimezone(where)
    if day:
        moment = datetime.combine(_parse_date(day), at, tzinfo=where)
    else:
        moment = datetime.combine(local_now.date(), at, tzinfo=where)
        if moment > local_now + CLOCK_SKEW:
            moment -= timedelta(days=1)
    moment = moment.astimezone(UTC)
    if moment > now + CLOCK_SKEW:
        raise ValidationFailed(FIELD, "the impact start is in the future")
    if now - moment > MAX_AGE:
        raise ValidationFailed(FIELD, "the impact start is more than 30 days ago: declare it as a new incident "
                                      "and give the history in the description")
    return min(moment, now)
