"""ISO 8601 durations in BEACON_CONFIG (`PT1H`, `PT3S`, `P1W`), parsed one way everywhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import isodate


def duration(value: Any) -> timedelta:
    """A positive duration in weeks, days, hours, minutes or seconds; months and years are refused
    (their length depends on the date)."""
    if isinstance(value, timedelta):
        return value
    try:
        parsed = isodate.parse_duration(str(value))
    except (isodate.ISO8601Error, ValueError):
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT1H or PT30M") from None
    if not isinstance(parsed, timedelta) or parsed <= timedelta(0):
        raise ValueError(f"{value!r} must be a positive duration in days, hours, minutes or seconds")
    return parsed
