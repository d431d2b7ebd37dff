"""Schedules fed by an iCalendar URL: `deps.shift_feeds` answers from the last good copy, and a
background loop keeps the copies fresh (services/paging/feeds.py)."""

from __future__ import annotations

from bot.wiring import Wiring
from services.paging.feeds import FeedRefresher, FeedSettings, ShiftFeeds


def wire_feeds(wiring: Wiring) -> None:
    feeds = ShiftFeeds(wiring.deps.config)
    wiring.deps.shift_feeds = feeds
    wiring.outside.extra["shift_feeds"] = feeds
    if not feeds.states:
        return
    settings = wiring.outside.extra.get("feeds") or FeedSettings()
    refresher = FeedRefresher(feeds, wiring.deps.uow, wiring.deps.clock, settings,
                              transport=wiring.outside.extra.get("feeds_transport"))
    wiring.runners.append(refresher)
    wiring.closers.append(refresher.aclose)
