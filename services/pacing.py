"""Pacing per Teams conversation: when the next send may go without Teams answering 429.

Teams limits each bot per conversation (a channel and all its threads are one): 7 sends a second,
8 per 2 s, 60 per 30 s and 1,800 an hour, counted over sliding windows (msteams-docs,
bots/how-to/rate-limit). A token bucket refilled at each limit's average rate lets up to twice a
limit through in one window, so the turns here are computed from the sends themselves: a send may
go at `t` when, for every limit, fewer than `most` sends fall in the window ending at `t`.

Turns are handed out in order of rank (a new incident's root card before notes and updates), then
of asking. The arithmetic is pure; services/store/pacing.py keeps the sends and the queue in the
database, so replicas share them. A turn there needs neither every send of the hour nor the whole
queue: only the sends `decisive` picks for each limit (`last_turn`), and the place in the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.durations import duration

# Sends a little later than the limits allow, so a request that travels a few milliseconds faster
# than the one before it is still inside the limit when Teams counts it.
MARGIN = timedelta(milliseconds=50)
TEAMS_PER_CONVERSATION = "7/PT1S,8/PT2S,60/PT30S,1800/PT1H"


@dataclass(frozen=True)
class Limit:
    most: int
    per: timedelta


def parse_limits(text: str) -> tuple[Limit, ...]:
    """`7/PT1S,8/PT2S`: at most 7 sends in any second and 8 in any two; empty: no pacing."""
    limits = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        most, slash, per = part.partition("/")
        if not slash or not most.strip().isdigit() or int(most) < 1:
            raise ValueError(f"{part!r} is not a limit such as 7/PT1S (sends per ISO 8601 duration)")
        limits.append(Limit(int(most), duration(per.strip())))
    return tuple(sorted(limits, key=lambda limit: limit.per))


def longest(limits: Sequence[Limit]) -> timedelta:
    return max((limit.per for limit in limits), default=timedelta(0))


def next_turn(sends: Sequence[datetime], after: datetime, limits: Sequence[Limit]) -> datetime:
    """The first moment from `after` on (and not before the last send) when one more send keeps
    every window within its limit; `sends` are in ascending order."""
    turn = max(after, sends[-1]) if sends else after
    for limit in limits:
        if len(sends) >= limit.most:
            turn = max(turn, sends[-limit.most] + limit.per + MARGIN)
    return turn


def turns(sends: Sequence[datetime], waiting: int, now: datetime, limits: Sequence[Limit]) -> list[datetime]:
    """When each of `waiting` queued sends may go, in queue order, after the `sends` already made."""
    booked = list(sends)
    times = []
    for _ in range(waiting):
        turn = next_turn(booked, now, limits)
        booked.append(turn)
        times.append(turn)
    return times


def decisive(limit: Limit, place: int) -> tuple[int, int]:
    """Which sends already made can decide when the `place`-th queued send may go under `limit`,
    counted from the newest (0): (skip, take). The n-th queued send (n ≤ most) waits for the
    (most - n + 1)-th newest send to leave the window; the later ones, for queued sends only."""
    take = min(place, limit.most)
    return limit.most - take, take


def last_turn(latest: datetime | None, windows: Sequence[Sequence[datetime]], place: int, now: datetime,
              limits: Sequence[Limit]) -> datetime:
    """`turns(sends, place, now, limits)[-1]`, from the latest send and, per limit, the sends its
    `decisive` picks among those in its window (newer than `now - per - MARGIN`), newest first. The
    older ones would allow a turn no later than `now`, so they change nothing."""
    times: list[datetime] = []
    for n in range(place):
        turn = times[-1] if times else max(now, latest) if latest is not None else now
        for limit, window in zip(limits, windows, strict=True):
            if n >= limit.most:
                turn = max(turn, times[n - limit.most] + limit.per + MARGIN)
            elif (back := min(place, limit.most) - 1 - n) < len(window):
                turn = max(turn, window[back] + limit.per + MARGIN)
        times.append(turn)
    return times[-1]
