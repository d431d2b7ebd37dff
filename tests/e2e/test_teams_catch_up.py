"""Issue 17: after a long Teams outage the thread gets one catch-up reply, not a burst of stale posts.

Beacon and the fake Bot Connector share one injectable clock, so a two-hour outage runs in
seconds: the test moves the clock in five-minute steps and lets the scheduler and the outbox
catch up after each. Timed updates and their reminders fall due every 20 minutes meanwhile; the
stakeholders' email and SMS go out while Teams is down; when Teams answers again, the thread
holds its root card once and one "While Teams was unreachable" reply saying what changed.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from services.clock import FakeClock
from services.effects.teams import UpdateCard
from services.outbox import COVERED
from services.store.tables import OutboxRow, TimerRow
from tests.e2e.conftest import Stack
from tests.e2e.helpers import card_text
from tests.e2e.test_teams_outage import CONFIG, alert, beacon, incident_roots, outbox

PLAN: dict[str, Any] = {**CONFIG, "communications": {
    "responder_update_high": "PT20M", "responder_update_other": "PT20M", "stakeholder_update": "PT30M",
    "grace": "PT5M", "late_after": "PT1M"}}
PLAN["directory"] = {**CONFIG["directory"], "product_head": {"name": "Priya Head", "email": "priya@example.com"}}
OUTAGE = timedelta(hours=2)
STEP = timedelta(minutes=5)


async def tick(stack: Stack, clock: FakeClock, step: timedelta = STEP) -> None:
    """Move the shared clock, then wait until every timer and outbox row due by then is handled."""
    clock.advance(step)
    stack.beacon.scheduler.wake()
    for _ in range(200):
        async with stack.beacon.deps.uow() as uow:
            due = await uow.session.scalar(select(func.count()).where(TimerRow.due_at <= clock.now()))
        if not due:
            break
        stack.beacon.scheduler.wake()
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the timers due did not fire")
    await settle(stack, clock)


async def settle(stack: Stack, clock: FakeClock) -> None:
    """Until no outbox row is being delivered and none is due that waits for nothing (posts
    queued behind an incident's root card that Teams has not taken yet wait), twice in a row: a
    delivery in flight while the test moves the clock would read one time and reach Teams at another."""
    worker = stack.beacon.worker
    quiet = 0
    for _ in range(1000):
        due = await worker.next_due()
        async with stack.beacon.deps.uow() as uow:
            sending = await uow.session.scalar(select(func.count()).where(OutboxRow.status == "sending"))
        quiet = quiet + 1 if not sending and not worker._running and (due is None or due > clock.now()) else 0
        if quiet == 2:
            return
        worker.wake()
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox did not settle")


def thread_texts(stack: Stack, root: Any) -> list[str]:
    return [m.text or " ".join(card_text(c) for c in m.cards) for m in stack.teams.thread(root.id)]


async def test_after_a_long_outage_the_thread_gets_one_catch_up_instead_of_a_burst(database_url: str) -> None:
    clock = FakeClock()
    async with beacon(database_url, PLAN, clock=clock, teams_catch_up_after="PT15M") as (stack, graph, twilio):
        stack.teams.clock = lambda: clock.now().timestamp()
        stack.teams.outage(OUTAGE.total_seconds(), 503)
        ends = clock.now() + OUTAGE
        await alert(stack, "azure_monitor_log_sev0_fired")
        await settle(stack, clock)
        while clock.now() + STEP < ends - timedelta(minutes=20):
            await tick(stack, clock)
        await alert(stack, "azure_monitor_log_sev0_resolved")  # resolved by monitoring, still during the outage
        await settle(stack, clock)

        # Teams is still down: email and SMS never waited for it, the thread does not exist yet.
        assert clock.now() < ends and incident_roots(stack) == []
        assert {s.to for s in twilio.sent} >= {"+15550000001", "+15550000002"}
        subjects = [m.subject for m in graph.sent_mail() if m.to == ["desk@example.com"]]
        assert len(subjects) >= 3 and any("Stakeholder update" in s for s in subjects), subjects
        pending = [r for r in await outbox(stack) if r.kind in ("teams.thread_card", "teams.thread_note")]
        assert len(pending) >= 8  # reminders, automatic updates and notes piled up behind the root card

        while clock.now() < ends + timedelta(minutes=15):
            await tick(stack, clock)

        [root] = incident_roots(stack)
        assert "resolved" in card_text(stack.teams.current(root.id)["attachments"][0]["content"]).lower()
        texts = thread_texts(stack, root)
        catch_up = texts[0]  # the first reply: nothing stale went before it
        assert catch_up.startswith("While Teams was unreachable (from 09:20 UTC"), texts
        missed = catch_up.count("responders update by Beacon (automatic)")
        assert missed >= 4 and "Azure Monitor: Payments API 5xx rate resolved" in catch_up
        assert sum("While Teams was unreachable" in t for t in texts) == 1
        # After it, only what was queued once Teams was back: no stale update, no reminder of one.
        later = [int(n) for t in texts[1:] for n in re.findall(r"update #(\d+)", t)]
        assert all(n > missed for n in later), texts
        assert not any("is due" in t for t in texts[1:]), texts

        rows = await outbox(stack)
        assert [r for r in rows if r.status == "failed"] == []
        skipped = [r for r in rows if r.status == "skipped" and r.kind.startswith("teams.")]
        # Each replaced by the catch-up reply, or a card redraw made needless by the one claimed before it.
        assert len(skipped) >= 7 and all(
            "catch-up" in r.last_error or (r.kind == UpdateCard.kind and r.last_error == COVERED) for r in skipped), \
            [(r.kind, r.last_error) for r in skipped]
        assert all(r.status in ("sent", "skipped") for r in rows if r.kind.startswith("teams.")), \
            [(r.kind, r.status, r.last_error) for r in rows]
