"""A schedule fed by an iCalendar URL, end to end over HTTP: the feed (not the rotation) decides who
an alert pages; when the calendar server fails Beacon keeps paging from the last good copy, also
after a restart; the doctor reports each feed's health."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.config import parse_config
from services.intake.settings import IntakeSettings
from services.paging.feed_doctor import feed_checks
from services.paging.feeds import FeedSettings, FeedState
from tests.e2e.conftest import Stack, start_stack, unconfigured
from tests.e2e.helpers import eventually
from tests.e2e.paging_helpers import ADA, ALERTS_TOKEN, BEARER, GRACE, alert, paging_config
from tests.e2e.test_paging import personal_pages
from tests.fakes.calendar import FakeCalendar
from tests.teams_activities import installation_update

SCHEDULE = "payments-primary"


@pytest.fixture(autouse=True)
def no_outside_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("ALERTS_", "SMS_", "TWILIO_", "ACK_", "VOICE_", "ONCALL_"))]:
        monkeypatch.delenv(name)


def feed(summary: str) -> bytes:
    """One turn from an hour ago until tomorrow, as a PagerDuty-style export."""
    now = datetime.now(UTC)
    stamp = "%Y%m%dT%H%M%SZ"
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Beacon tests//EN\r\nBEGIN:VEVENT\r\nUID:turn-1\r\n"
            f"SUMMARY:{summary}\r\nDTSTART:{(now - timedelta(hours=1)).strftime(stamp)}\r\n"
            f"DTEND:{(now + timedelta(days=1)).strftime(stamp)}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def fed_config(calendar: FakeCalendar) -> Any:
    """Ada is on call by the rotation; the schedule's feed says Grace."""
    raw = paging_config()
    raw["oncall"]["schedules"][0]["ical_url"] = calendar.feed_url
    raw["alert_routing"]["grouping_window"] = "PT0S"  # each alert its own incident, so each one pages
    return parse_config(raw)


@asynccontextmanager
async def fed_stack(database_url: str, calendar: FakeCalendar) -> AsyncIterator[tuple[Stack, FeedState]]:
    outside = unconfigured()
    outside.extra["intake"] = IntakeSettings(_env_file=None, ALERTS_WEBHOOK_TOKEN=ALERTS_TOKEN)  # type: ignore[call-arg]
    outside.extra["feeds"] = FeedSettings(_env_file=None, ONCALL_FEED_REFRESH="PT1S")  # type: ignore[call-arg]
    stack = await start_stack(database_url, fed_config(calendar), outside=outside)
    for person in (ADA, GRACE):
        stack.teams.add_member(person)
    try:
        await stack.send(installation_update(service_url=stack.url))
        yield stack, outside.extra["shift_feeds"].states[SCHEDULE]
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def page(stack: Stack, name: str) -> None:
    status, answer = await stack.beacon.post("/api/alerts/alertmanager", alert(name), headers=BEARER)
    assert status == 200 and answer["alerts"][0]["outcome"] == "declared", answer


async def test_the_feed_decides_who_is_paged_and_its_last_good_copy_outlives_failures_and_restarts(database_url):
    async with FakeCalendar(feed(f"On Call - {GRACE.name} - Payments primary")) as calendar:
        async with fed_stack(database_url, calendar) as (stack, health):
            await eventually(lambda: health.parsed is not None, timeout=20, what="the feed's first copy")
            await page(stack, "PaymentsDown")
            await eventually(lambda: personal_pages(stack, GRACE), timeout=20, what="Grace's page")
            assert not personal_pages(stack, ADA)  # the rotation would have paged Ada

            # The calendar server fails (and then serves a login page): the last good copy still pages.
            calendar.fail_next(10_000, 503)
            await eventually(lambda: health.failures >= 2, timeout=15, what="failed refreshes")
            assert "HTTP 503" in health.error and "503" in health.describe()
            await page(stack, "PaymentsSlow")
            await eventually(lambda: len(personal_pages(stack, GRACE)) == 2, timeout=20, what="Grace's 2nd page")
            assert not personal_pages(stack, ADA)
            assert any(r.headers.get("If-None-Match") for r in calendar.requests)  # conditional refreshes

        # Restarted while the calendar is still down: the copy in the database pages, not the rotation.
        async with fed_stack(database_url, calendar) as (stack, health):
            await eventually(lambda: health.parsed is not None, timeout=20, what="the stored copy")
            await page(stack, "PaymentsErrors")
            await eventually(lambda: personal_pages(stack, GRACE), timeout=20, what="Grace's page after restart")
            assert not personal_pages(stack, ADA) and health.failures >= 1


async def test_without_any_good_copy_the_rotation_pages_and_a_body_that_is_not_icalendar_is_not_kept(database_url):
    async with FakeCalendar(b"<html><body>Sign in to your calendar</body></html>") as calendar:
        async with fed_stack(database_url, calendar) as (stack, health):
            await eventually(lambda: health.failures >= 1, timeout=20, what="the refused body")
            assert health.parsed is None and "iCalendar" in health.error
            await page(stack, "PaymentsDown")
            await eventually(lambda: personal_pages(stack, ADA), timeout=20, what="Ada's page by rotation")
            assert not personal_pages(stack, GRACE)


async def test_the_doctor_reads_each_feed_and_says_who_it_puts_on_call(database_url):
    async with FakeCalendar(feed(f"On Call - {GRACE.name}")) as calendar:
        config = fed_config(calendar)
        settings = FeedSettings(_env_file=None)  # type: ignore[call-arg]
        [(outcome, detail, _)] = await feed_checks(config, settings)
        assert outcome == "ok" and "on call now: Grace Hopper" in detail
        assert "private-3f9c2a" not in detail  # the feed's secret address is never shown
        calendar.body = feed("On Call - Bob Nobody")
        [(outcome, detail, fix)] = await feed_checks(config, settings)
        assert outcome == "fail" and "'On Call - Bob Nobody'" in detail and "directory" in fix
        calendar.fail_next(1, 404)
        [(outcome, detail, fix)] = await feed_checks(config, settings)
        assert outcome == "fail" and "HTTP 404" in detail and "last good copy" in fix
