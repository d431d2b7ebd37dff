"""Turns under Teams' per-conversation limits (services/pacing.py): never more than a limit in any
window, and no later than the limits require."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.pacing import MARGIN, TEAMS_PER_CONVERSATION, decisive, last_turn, parse_limits, turns

LIMITS = parse_limits(TEAMS_PER_CONVERSATION)
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def most_in_a_window(times: list[datetime], per: timedelta) -> int:
    return max(sum(start - per < t <= start for t in times) for start in times)


def test_a_burst_of_turns_keeps_every_sliding_window_within_its_limit() -> None:
    times = turns([], 200, NOW, LIMITS)
    assert times == sorted(times) and times[:7] == [NOW] * 7
    for limit in LIMITS:
        assert most_in_a_window(times, limit.per) <= limit.most, limit
    # 60 in the first 30 s, then the next only once the first of them is 30 s old
    assert times[59] < NOW + timedelta(seconds=30) <= times[60] <= NOW + timedelta(seconds=30) + MARGIN
    assert times[7] == NOW + timedelta(seconds=1) + MARGIN  # the 8th: 7 a second...
    assert times[8] == NOW + timedelta(seconds=2) + MARGIN  # ...and 8 in two seconds


def test_sends_already_made_count() -> None:
    made = [NOW - timedelta(seconds=29)] * 59
    first, second = turns(made, 2, NOW, LIMITS)
    assert first == NOW  # the 60th in 30 s
    assert second == NOW + timedelta(seconds=1) + MARGIN  # once the 59 are 30 s old


def test_limits_are_read_as_sends_per_duration_and_refused_otherwise() -> None:
    assert [(limit.most, limit.per) for limit in parse_limits("60/PT30S, 7/PT1S")] == [
        (7, timedelta(seconds=1)), (60, timedelta(seconds=30))]
    assert parse_limits("") == ()
    for wrong in ("7", "x/PT1S", "0/PT1S", "7/1s"):
        with pytest.raises(ValueError):
            parse_limits(wrong)


def test_the_decisive_sends_give_the_turn_all_the_sends_give() -> None:
    """A turn needs the latest send and, per limit, only the sends `decisive` picks in its window:
    at most one per place in the queue, never more than the limit, whatever the hour holds."""
    rng = random.Random(7)
    for limits in (LIMITS, parse_limits("2/PT1S,3/PT3S,9/PT20S")):
        for _ in range(300):
            made = sorted(NOW - timedelta(seconds=rng.uniform(-2, rng.choice((1, 5, 40, 3600))))
                          for _ in range(rng.choice((0, 3, 10, 70, 400, 1900))))
            place = rng.choice((1, 2, 7, 9, 61, 150))
            windows = []
            for limit in limits:
                newest_first = [at for at in reversed(made) if at > NOW - limit.per - MARGIN]
                skip, take = decisive(limit, place)
                assert take <= min(place, limit.most)
                windows.append(newest_first[skip:skip + take])
            latest = made[-1] if made else None
            assert last_turn(latest, windows, place, NOW, limits) == turns(made, place, NOW, limits)[-1]
