"""Response metrics with thousands of incidents stored: /metrics and `@Beacon metrics` count the
incidents of the last 90 days (drills left out) from SQL aggregates, and /healthz keeps answering
while they are asked. How fast is measured by `python -m bench.metrics`, not here."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from services.store.tables import IncidentRow, TimelineRow
from tests.e2e.helpers import card_text
from tests.teams_activities import channel_message

RECENT = 3000
PRIORITIES = ("P1", "P2", "P3")
ACK_SECONDS = {"P1": 120.0, "P2": 300.0, "P3": 600.0}
ALICE = {"aad_object_id": "aad-alice", "name": "Alice Carter", "user_id": None}


def incident(number: int, declared_at: datetime, priority: str, *, acknowledged: float | None,
             resolved: bool, drill: bool = False) -> dict[str, Any]:
    return {"id": number, "version": 3, "title": f"Outage {number}", "description": "", "impact": "high",
            "urgency": "high", "priority": priority, "status": "resolved" if resolved else "investigating",
            "service": "payments-api", "client": "", "source": "chat", "declared_by": ALICE,
            "declared_at": declared_at, "commander": None, "responders": [],
            "acknowledged_at": declared_at + timedelta(seconds=acknowledged) if acknowledged is not None else None,
            "acknowledged_by": ALICE if acknowledged is not None else None, "acknowledged_via": "card",
            "resolved_at": declared_at + timedelta(hours=2) if resolved else None, "resolution_summary": "",
            "config_version": "", "drill": drill}


def event(number: int, at: datetime, kind: str, version: int, **after: Any) -> dict[str, Any]:
    return {"incident_id": number, "at": at, "kind": kind, "actor": ALICE, "summary": kind, "before": None,
            "after": after, "incident_version": version}


async def store_history(stack: Any, now: datetime) -> dict[str, Any]:
    """3,000 incidents of the last 62 days, and others the metrics must leave out: 200 declared 120
    days ago and 100 drills, all slower to acknowledge. Returns what the metrics should say."""
    incidents, events = [], []
    expected: dict[str, Any] = {"acked": Counter(), "resolved": Counter(), "weeks": Counter(),
                                "updates": Counter()}
    for n in range(1, RECENT + 1):
        declared, priority = now - timedelta(days=1, minutes=30 * n), PRIORITIES[n % 3]
        acknowledged = None if n % 10 == 0 else ACK_SECONDS[priority]
        resolved = n % 2 == 0
        incidents.append(incident(n, declared, priority, acknowledged=acknowledged, resolved=resolved))
        events.append(event(n, declared + timedelta(minutes=10), "status_changed", 2, status="investigating"))
        if resolved:
            events.append(event(n, declared + timedelta(hours=1), "status_changed", 2, status="monitoring"))
            events.append(event(n, declared + timedelta(hours=2), "resolved", 3, status="resolved"))
            expected["resolved"][priority] += 1
        punctuality = ("automatic", "late", "on_time", "on_time")[n % 4]
        events.append(event(n, declared + timedelta(minutes=30), "status_update", 2,
                            automatic=punctuality == "automatic", late=punctuality == "late"))
        expected["updates"][punctuality] += 1
        expected["acked"][priority] += acknowledged is not None
        year, week, _ = declared.isocalendar()
        expected["weeks"][f"{year}-W{week:02d}"] += 1
    for n in range(RECENT + 1, RECENT + 301):  # long ago, or drills: slow, and never counted
        drill = n > RECENT + 200
        declared = now - timedelta(days=2 if drill else 120, minutes=n)
        incidents.append(incident(n, declared, "P1", acknowledged=3600.0, resolved=not drill, drill=drill))
        events.append(event(n, declared + timedelta(hours=1, minutes=30), "status_changed", 2, status="monitoring"))
        events.append(event(n, declared + timedelta(hours=5), "status_update", 2, automatic=True, late=False))
    async with stack.beacon.deps.uow() as uow:
        await uow.session.execute(insert(IncidentRow.__table__), incidents)
        for start in range(0, len(events), 2000):
            await uow.session.execute(insert(TimelineRow.__table__), events[start:start + 2000])
        await uow.commit()
    return expected


async def test_metrics_count_the_last_90_days_and_healthz_answers_meanwhile(stack):
    expected = await store_history(stack, stack.beacon.deps.clock.now())
    healthz: list[int] = []
    asking = True

    async def probe() -> None:
        while asking:
            status, _ = await stack.beacon.get("/healthz")
            healthz.append(status)
            await asyncio.sleep(0.01)

    prober = asyncio.ensure_future(probe())
    try:
        answers = await asyncio.gather(*(stack.beacon.get_text("/metrics") for _ in range(5)))
        await stack.send(channel_message("metrics", service_url=stack.url))
        card = await stack.teams.wait_for(
            lambda r: next((m for m in r.posted() if m.cards and "Response metrics" in card_text(m.cards[0])), None))
    finally:
        asking = False
        await prober
    assert healthz and set(healthz) == {200}

    for status, body in answers:
        assert status == 200
        for priority in PRIORITIES:
            assert f'beacon_time_to_acknowledge_seconds{{priority="{priority}"}} {ACK_SECONDS[priority]}' in body
            assert f'beacon_time_to_acknowledge_incidents{{priority="{priority}"}} ' \
                   f'{float(expected["acked"][priority])}' in body
            assert f'beacon_time_to_mitigate_seconds{{priority="{priority}"}} 3600.0' in body
            assert f'beacon_time_to_resolve_seconds{{priority="{priority}"}} 7200.0' in body
            assert f'beacon_time_to_resolve_incidents{{priority="{priority}"}} ' \
                   f'{float(expected["resolved"][priority])}' in body
        weeks = {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                 if line.startswith("beacon_incidents_per_week{")}
        assert weeks == {week: float(n) for week, n in expected["weeks"].items()}
        for punctuality, n in expected["updates"].items():
            assert f'beacon_status_updates{{punctuality="{punctuality}"}} {float(n)}' in body
    text = card_text(card.cards[0])
    updates = expected["updates"]
    assert f"{updates['on_time']} on time, {updates['late']} late, {updates['automatic']} automatic" in text
    assert "last 90 days" in text
