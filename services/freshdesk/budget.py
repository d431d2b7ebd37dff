"""Freshdesk's API budget as Beacon sees it: what is left this window, and who may spend it.

Freshdesk counts API calls per account per minute (per hour on some newer plans), whatever agent,
app or address makes them, invalid ones included. Every answer carries X-Ratelimit-Total,
X-Ratelimit-Remaining and X-Ratelimit-Used-CurrentRequest; beyond the limit it answers 429 with
Retry-After. It does not say when the window ends.

So Beacon paces itself from the headers instead of running into 429s:
- urgent calls (creating a new incident's ticket, and the search that keeps a retry from making a
  second one) may spend the budget down to nothing;
- every other call (ticket updates, notes, replies to customers: the fan-out) stops while the
  remaining calls are at or below the reserve, FRESHDESK_RESERVE_FOR_TICKETS of the total, so
  an incident declared during a fan-out to hundreds of tickets still gets its ticket at once;
- a 429's Retry-After holds every call back until it has passed, instead of each queued effect
  spending a call to hear the same 429.
Without a reset time in the headers, a call held back waits until one window after the answer
that showed the budget low: by then the window has certainly turned. Calls still in flight count
as spent, so concurrent deliveries cannot overshoot the reserve together.

A wait is not a failed attempt: the caller raises a transient 429 with the wait as Retry-After,
which the outbox never counts (services.delivery).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """Freshdesk's budget, from the X-Ratelimit-* headers of the last answer."""

    total: int
    remaining: int
    used_by_last_call: int = 1


class ApiBudget:
    """One per process and helpdesk; the numbers are Freshdesk's own, read from each answer."""

    def __init__(self, reserve: float, window_seconds: float, now: Callable[[], float] = time.monotonic):
        self.reserve = reserve
        self.window = window_seconds
        self._now = now
        self.last: RateLimit | None = None
        self._seen_at = 0.0
        self._blocked_until = 0.0
        self._in_flight = 0

    @property
    def reserved_calls(self) -> int:
        """How many calls of the window only urgent calls may make."""
        return math.ceil(self.last.total * self.reserve) if self.last else 0

    def wait(self, *, urgent: bool) -> float:
        """Seconds a call should wait before it is made; 0 when it may go now."""
        now = self._now()
        if now < self._blocked_until:
            return self._blocked_until - now
        if self.last is None or now - self._seen_at >= self.window:
            return 0.0  # nothing known, or the window has turned since
        floor = 0 if urgent else self.reserved_calls
        if self.last.remaining - self._in_flight * self.last.used_by_last_call > floor:
            return 0.0
        return max(0.1, self._seen_at + self.window - now)

    def started(self) -> None:
        self._in_flight += 1

    def answered(self, headers: Mapping[str, str] | None) -> RateLimit | None:
        """A call ended (headers of its answer, or None when there was none); returns what the
        headers said."""
        self._in_flight = max(0, self._in_flight - 1)
        if headers is None:
            return None
        try:
            total = int(headers["X-Ratelimit-Total"])
            remaining = int(headers["X-Ratelimit-Remaining"])
        except (KeyError, ValueError):
            return None
        try:
            used = max(1, int(headers.get("X-Ratelimit-Used-CurrentRequest", "1")))
        except ValueError:
            used = 1
        self.last, self._seen_at = RateLimit(total, max(0, remaining), used), self._now()
        return self.last

    def refused(self, retry_after: float | None) -> float:
        """Freshdesk answered 429: nobody calls until Retry-After has passed (a window when it gave
        none). Returns the wait."""
        wait = retry_after if retry_after is not None else self.window
        self._blocked_until = max(self._blocked_until, self._now() + wait)
        return wait
