"""Response metrics follow an incident's facts as they are corrected: a re-assessed priority moves
the incident between priorities, a reopening takes its resolution away until it is resolved again,
a second mitigation does not move the first, and an incident leaves the numbers when its
declaration leaves the 90 days. Also: incidents stored before the facts existed are counted from
their rows and timelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command

from services.clock import FakeClock
from services.store.db import _alembic_config, create_engine
from tests.e2e.conftest import start_stack
from tests.e2e.helpers import act, declare, settled

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def lines(body: str, prefix: str) -> dict[str, str]:
    """The /metrics samples whose name starts with `prefix`, as {sample with labels: value}."""
    return dict(line.rsplit(" ", 1) for line in body.splitlines() if line.startswith(prefix))


async def scrape(stack: Any) -> str:
    status, body = await stack.beacon.get_text("/metrics")
    assert status == 200
    return body


async def test_corrected_facts_keep_the_metrics_right(database_url):
    clock = FakeClock(START)
    stack = await start_stack(database_url, clock=clock)
    try:
        _, root = await declare(stack, "Checkout failing")  # high impact, high urgency: P1
        for minutes, verb, data in [
                (5, "incident.take_command", {}),
                (10, "incident.status", {"status": "investigating"}),
                (0, "incident.reassess", {"impact": "medium", "urgency": "high"}),  # now P2
                (0, "incident.post_update", {"audience": "stakeholders", "update": "Still on it"}),
                (45, "incident.status", {"status": "monitoring"}),
                (60, "incident.resolve", {"summary": "Rolled back the release"})]:
            clock.advance(timedelta(minutes=minutes))
            await settled(stack)
            await act(stack, root, verb, **data)
        await settled(stack)
        body = await scrape(stack)
        assert lines(body, "beacon_time_to_") == {
            'beacon_time_to_acknowledge_seconds{priority="P2"}': "300.0",
            'beacon_time_to_acknowledge_incidents{priority="P2"}': "1.0",
            'beacon_time_to_mitigate_seconds{priority="P2"}': "3600.0",
            'beacon_time_to_mitigate_incidents{priority="P2"}': "1.0",
            'beacon_time_to_resolve_seconds{priority="P2"}': "7200.0",
            'beacon_time_to_resolve_incidents{priority="P2"}': "1.0"}
        assert lines(body, "beacon_status_updates{") == {
            'beacon_status_updates{punctuality="on_time"}': "1.0", 'beacon_status_updates{punctuality="late"}': "0.0",
            'beacon_status_updates{punctuality="automatic"}': "0.0"}

        clock.advance(timedelta(minutes=30))  # reopened: no longer resolved
        await act(stack, root, "incident.reopen")
        await settled(stack)
        body = await scrape(stack)
        assert "beacon_time_to_resolve_seconds{" not in body
        assert lines(body, "beacon_time_to_mitigate_seconds{") == {
            'beacon_time_to_mitigate_seconds{priority="P2"}': "3600.0"}

        for minutes, verb, data in [
                (30, "incident.status", {"status": "monitoring"}),  # mitigated again: the first one counts
                (0, "incident.reassess", {"impact": "high", "urgency": "high"}),  # back to P1
                (30, "incident.resolve", {"summary": "Fixed the config for good"})]:  # 3.5 h after the declaration
            clock.advance(timedelta(minutes=minutes))
            await settled(stack)
            await act(stack, root, verb, **data)
        await settled(stack)
        body = await scrape(stack)
        assert lines(body, "beacon_time_to_") == {
            'beacon_time_to_acknowledge_seconds{priority="P1"}': "300.0",
            'beacon_time_to_acknowledge_incidents{priority="P1"}': "1.0",
            'beacon_time_to_mitigate_seconds{priority="P1"}': "3600.0",
            'beacon_time_to_mitigate_incidents{priority="P1"}': "1.0",
            'beacon_time_to_resolve_seconds{priority="P1"}': "12600.0",
            'beacon_time_to_resolve_incidents{priority="P1"}': "1.0"}
        assert lines(body, "beacon_incidents_per_week{") == {'beacon_incidents_per_week{week="2026-W02"}': "1.0"}

        clock.advance(timedelta(days=90))  # declared more than 90 days ago: out of the window
        body = await scrape(stack)
        assert lines(body, "beacon_time_to_") == {}
        assert lines(body, "beacon_incidents_per_week{") == {}
        assert lines(body, "beacon_status_updates{") == {
            'beacon_status_updates{punctuality="on_time"}': "0.0", 'beacon_status_updates{punctuality="late"}': "0.0",
            'beacon_status_updates{punctuality="automatic"}': "0.0"}
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


def _upgrade_to(connection: sa.Connection, revision: str) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_incidents_stored_before_the_facts_are_counted(database_url):
    """An incident and its timeline written under 0028, then the migration: the facts are filled
    in from them, and the first mitigation and the updates' punctuality come from the timeline."""
    engine = create_engine(database_url)
    declared = START
    person = {"aad_object_id": "aad-alice", "name": "Alice Carter", "user_id": None}
    incidents = sa.table("incidents", *(sa.column(c) for c in (
        "id", "version", "title", "description", "impact", "urgency", "priority", "status", "service", "client",
        "source", "declared_at", "acknowledged_at", "acknowledged_via", "resolved_at",
        "resolution_summary", "config_version", "drill")), sa.column("declared_by", sa.JSON),
                         sa.column("responders", sa.JSON))
    timeline = sa.table("timeline_events", *(sa.column(c) for c in (
        "incident_id", "at", "kind", "summary", "incident_version")), sa.column("after", sa.JSON))
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_to, "0028_dedicated_channels")
        for number, priority, drill in ((1, "P2", False), (2, "P2", False), (3, "P1", True)):
            await connection.execute(incidents.insert().values(
                id=number, version=3, title=f"Outage {number}", description="", impact="high", urgency="high",
                priority=priority, status="resolved", service="", client="", source="chat", declared_by=person,
                declared_at=declared, responders=[], acknowledged_at=declared + timedelta(minutes=number * 5),
                acknowledged_via="card", resolved_at=declared + timedelta(hours=2), resolution_summary="",
                config_version="", drill=drill))
            for minutes, kind, after in ((40, "status_update", {"automatic": False, "late": number == 2}),
                                         (50, "status_update", {"automatic": True, "late": True}),
                                         (60 * number, "status_changed", {"status": "monitoring"}),
                                         (100, "status_changed", {"status": "verifying"}),
                                         (120, "resolved", {"status": "resolved"})):
                await connection.execute(timeline.insert().values(
                    incident_id=number, at=declared + timedelta(minutes=minutes), kind=kind, summary=kind,
                    incident_version=2, after=after))
        await connection.run_sync(_upgrade_to, "heads")
    await engine.dispose()
    stack = await start_stack(database_url, clock=FakeClock(START + timedelta(days=1)))
    try:
        body = await scrape(stack)
        assert lines(body, "beacon_time_to_") == {
            'beacon_time_to_acknowledge_seconds{priority="P2"}': "450.0",
            'beacon_time_to_acknowledge_incidents{priority="P2"}': "2.0",
            'beacon_time_to_mitigate_seconds{priority="P2"}': "4800.0",
            'beacon_time_to_mitigate_incidents{priority="P2"}': "2.0",
            'beacon_time_to_resolve_seconds{priority="P2"}': "7200.0",
            'beacon_time_to_resolve_incidents{priority="P2"}': "2.0"}
        assert lines(body, "beacon_status_updates{") == {
            'beacon_status_updates{punctuality="on_time"}': "1.0", 'beacon_status_updates{punctuality="late"}': "1.0",
            'beacon_status_updates{punctuality="automatic"}': "2.0"}
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
