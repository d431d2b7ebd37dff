"""Schedules fed by an iCalendar URL (`ical_url`): fetched in the background, the last good copy
kept in the database and in memory, so paging never waits for a calendar server and a failed
fetch (an outage, a 404, a body that is not iCalendar) changes nothing but the feed's health.

`ShiftFeeds` is `deps.shift_feeds`: the shifts of each fed schedule from its last good copy, or
None while there is none (the schedule's `people` rotate then). `FeedRefresher` is the background
loop: on start it loads the copies every replica shares from the database, then refreshes each feed
every ONCALL_FEED_REFRESH, asking with If-None-Match/If-Modified-Since, and re-expands the copy
(the window of turns moves with the clock). A replica that finds the copy refreshed by another
recently takes it from the database instead of fetching. Feed URLs often carry a secret token, so
only their host is ever shown or logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.background import BackgroundLoop
from services.clock import Clock
from services.config import BeaconConfig
from services.durations import duration
from services.paging.config import ScheduleEntry
from services.paging.feed_parse import FeedUnreadable, ParsedFeed, parse_feed
from services.paging.feed_tables import FeedCopies, FeedRow
from services.paging.shifts import Shift

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

log = logging.getLogger("beacon.oncall.feeds")
MAX_BYTES = 5 * 1024 * 1024
LOOK_BACK, LOOK_AHEAD = timedelta(days=2), timedelta(days=62)


class FeedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    refresh: str = Field("PT15M", validation_alias="ONCALL_FEED_REFRESH")
    timeout_seconds: float = Field(20.0, gt=0, validation_alias="ONCALL_FEED_TIMEOUT_SECONDS")


def shown(url: str) -> str:
    """The feed's address without its path and query, which often hold a private token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…" if parts.hostname else "(not a URL)"


@dataclass
class FeedState:
    """What Beacon knows of one schedule's feed (also its health for the doctor and `/metrics`)."""

    schedule: str
    url: str
    parsed: ParsedFeed | None = None
    fetched_at: datetime | None = None
    checked_at: datetime | None = None
    error: str = ""
    failures: int = 0
    unknown: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        where = shown(self.url)
        if self.parsed is None:
            why = self.error or "not fetched yet"
            return f"{self.schedule}: no copy of {where} yet ({why}); its people rotate meanwhile"
        text = (f"{self.schedule}: {len(self.parsed.shifts)} turns from {where}, copy of "
                f"{self.fetched_at:%Y-%m-%d %H:%M} UTC")
        if self.error:
            text += f"; the latest {self.failures} fetch(es) failed ({self.error}), so the last good copy is used"
        if self.unknown:
            text += f"; events naming nobody in the directory: {', '.join(repr(u) for u in self.unknown[:3])}"
        return text


class ShiftFeeds:
    """deps.shift_feeds: a fed schedule's shifts from its last good copy (None: no copy yet)."""

    def __init__(self, config: BeaconConfig):
        self.config = config
        self.states = {s.name: FeedState(s.name, s.ical_url) for s in config.oncall.schedules if s.ical_url}

    def __call__(self, schedule: str) -> Sequence[Shift] | None:
        state = self.states.get(schedule)
        return state.parsed.shifts if state is not None and state.parsed is not None else None

    def health(self) -> list[FeedState]:
        return list(self.states.values())


class FeedRefresher(BackgroundLoop):
    name = "oncall-feeds"

    def __init__(self, feeds: ShiftFeeds, uow: Callable[[], UnitOfWork], clock: Clock, settings: FeedSettings,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.every = duration(settings.refresh)
        super().__init__(clock, idle_poll=max(1.0, self.every.total_seconds()))
        self.feeds, self._uow = feeds, uow
        self._http = feed_client(settings, transport)
        self._loaded = False

    async def aclose(self) -> None:
        await self._http.aclose()

    async def next_due(self) -> datetime | None:
        checked = [s.checked_at for s in self.feeds.states.values()]
        return None if not checked else min((c + self.every if c else self._clock.now()) for c in checked)

    async def run_once(self) -> int:
        now = self._clock.now()
        if not self._loaded:
            await self._load()
            self._loaded = True
        done = 0
        for schedule in self.feeds.config.oncall.schedules:
            state = self.feeds.states.get(schedule.name)
            if state is not None and (state.checked_at is None or state.checked_at + self.every <= now):
                await self.refresh(schedule)
                done += 1
        return done

    async def _load(self) -> None:
        """The copies in the database (another replica's, or this one's before a restart)."""
        async with self._uow() as uow:
            rows = await FeedCopies(uow).all()
        for schedule in self.feeds.config.oncall.schedules:
            row = rows.get(schedule.name)
            if row is not None and schedule.ical_url and row.url == schedule.ical_url:
                await self._adopt(schedule, row)

    async def _adopt(self, schedule: ScheduleEntry, row: FeedRow) -> None:
        """Take a stored row: its health, and its copy when there is one that reads."""
        state = self.feeds.states[schedule.name]
        state.checked_at, state.error, state.failures = row.checked_at, row.error, row.failures
        if row.body:
            try:
                state.parsed = await self._parse(schedule, row.body)
            except FeedUnreadable as error:
                log.warning("the stored copy of %s's feed cannot be read: %s", schedule.name, error)
                return
            state.fetched_at, state.unknown = row.fetched_at, state.parsed.unknown

    async def _parse(self, schedule: ScheduleEntry, body: bytes) -> ParsedFeed:
        """In a worker thread: expanding a large feed's recurrences must not stall the bot."""
        now = self._clock.now()
        return await asyncio.to_thread(parse_feed, body, schedule, self.feeds.config, now - LOOK_BACK,
                                       now + LOOK_AHEAD)

    async def refresh(self, schedule: ScheduleEntry) -> None:
        """Fetch (conditionally) and keep the copy when it reads; otherwise only record why not.
        No transaction stays open while the calendar server answers."""
        now = self._clock.now()
        async with self._uow() as uow:
            row = await FeedCopies(uow).get(schedule.name)
        if row is not None and row.url == schedule.ical_url and row.checked_at and row.checked_at + self.every > now:
            await self._adopt(schedule, row)  # checked moments ago (by another replica, or before a restart)
            return
        if row is None or row.url != schedule.ical_url:  # a new feed, or its URL changed: start over
            row = FeedRow(schedule=schedule.name, url=schedule.ical_url, etag="", last_modified="", error="",
                          failures=0)
        try:
            body, etag, modified = await self._fetch(schedule.ical_url, row)
            await self._parse(schedule, body)
        except (FeedUnreadable, FeedFetchFailed) as error:
            row.checked_at, row.error, row.failures = now, str(error)[:500], (row.failures or 0) + 1
            log.warning("on-call feed of %s (%s): %s", schedule.name, shown(schedule.ical_url), error)
        else:
            row.body, row.etag, row.last_modified = body, etag, modified
            row.fetched_at, row.checked_at, row.error, row.failures = now, now, "", 0
        async with self._uow() as uow:
            await uow.write_first()
            await FeedCopies(uow).save(row)
            await uow.commit()
        await self._adopt(schedule, row)

    async def _fetch(self, url: str, row: FeedRow) -> tuple[bytes, str, str]:
        return await fetch_feed(self._http, url, row.body, row.etag, row.last_modified)


class FeedFetchFailed(Exception):
    """The feed could not be fetched (network, status, size); the message says why."""


async def fetch_feed(http: httpx.AsyncClient, url: str, stored: bytes | None = None, etag: str = "",
                     last_modified: str = "") -> tuple[bytes, str, str]:
    """The feed's body, ETag and Last-Modified; `stored` again when the server answers 304."""
    url = "https://" + url.removeprefix("webcal://") if url.startswith("webcal://") else url
    headers = {}
    if stored and etag:
        headers["If-None-Match"] = etag
    if stored and last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with http.stream("GET", url, headers=headers) as response:
            if response.status_code == 304 and stored:
                return stored, etag, last_modified
            if response.status_code != 200:
                raise FeedFetchFailed(f"HTTP {response.status_code} {response.reason_phrase}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FeedFetchFailed(f"larger than {MAX_BYTES // 1024 // 1024} MB")
            return bytes(body), response.headers.get("ETag", ""), response.headers.get("Last-Modified", "")
    except httpx.HTTPError as error:
        raise FeedFetchFailed(f"{type(error).__name__}: could not fetch it") from None


def feed_client(settings: FeedSettings, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.timeout_seconds, follow_redirects=True, transport=transport,
                             headers={"User-Agent": "Beacon", "Accept": "text/calendar, */*;q=0.5"})
