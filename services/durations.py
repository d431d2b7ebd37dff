"""Durations: ISO 8601 in BEACON_CONFIG (`PT1H`, `PT3S`, `P1W`), parsed one way everywhere, and said
one way to people (`span`: the card, the thread and the report read alike)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import isodate
from pydantic import BeforeValidator


def duration(value: Any, *, allow_zero: bool = False) -> timedelta:
    """A positive duration in weeks, days, hours, minutes or seconds (or zero, where `allow_zero`);
    months and years are refused (their length depends on the date)."""
    if isinstance(value, timedelta):
        return value
    try:
        parsed = isodate.parse_duration(str(value))
    except (isodate.ISO8601Error, ValueError):
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT1H or PT30M") from None
    if not isinstance(parsed, timedelta) or (parsed < timedelta(0) if allow_zero else parsed <= timedelta(0)):
        least = "zero or a positive" if allow_zero else "a positive"
        raise ValueError(f"{value!r} must be {least} duration in days, hours, minutes or seconds")
    return parsed


# The pydantic field types of BEACON_CONFIG: a positive duration, and one that may be zero.
Duration = Annotated[timedelta, BeforeValidator(duration)]
Window = Annotated[timedelta, BeforeValidator(lambda value: duration(value, allow_zero=True))]


def span(delta: timedelta | None) -> str:
    """"2 h 05 min", "12 min", "3 d 4 h": how long, to the minute; "—" when not known."""
    if delta is None:
        return "—"
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min" if mins else "under a minute"
