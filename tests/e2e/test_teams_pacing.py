"""Issue 17: an alert storm into one channel, against a connector that enforces Teams' limits.

Forty incidents are declared at once into one channel, and each gets a note when its alert
resolves. The fake Bot Connector counts each conversation's requests as Teams does (7 a second,
8 in 2 s, 60 in 30 s, 1,800 an hour; a channel and its threads are one) and answers 429 beyond.
Beacon and the fake share one clock, which the test moves to the next moment an effect is due,
so a minute and a half of pacing runs in seconds. What a responder checks: every incident has its
thread and its note, the root cards went first, nothing failed, and Teams never had to say 429.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from bot.poster import TeamsPoster
from services.clock import FakeClock
from services.pacing import TEAMS_PER_CONVERSATION
from services.store.tables import OutboxRow
from tests.e2e.conftest import Stack
from tests.e2e.helpers import card_text
from tests.e2e.test_crash import alert as alertmanager_alert
from tests.e2e.test_crash import storm_config
from tests.e2e.test_teams_catch_up import settle
from tests.e2e.test_freshdesk import HOOK, TRIAGE, helpdesk, user_ticket, webhook
from tests.e2e.test_teams_outage import TOKEN, beacon, outbox
from tests.teams_activities import CHANNEL_ID

pytestmark = pytest.mark.slow

INCIDENTS = 40


async def storm(stack: Stack, status: str, incidents: range) -> None:
    async def one(n: int) -> None:
        body = alertmanager_alert(n, n)
        body["status"] = body["alerts"][0]["status"] = status
        answer, reply = await stack.beacon.post("/api/alerts/alertmanager", body,
                                                headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer == 200, reply

    await asyncio.gather(*(one(n) for n in incidents))


async def until_delivered(stack: Stack, clock: FakeClock) -> int:
    """Let the outbox deliver what is due, then move the clock to the next due effect; returns
    how many times the clock moved."""
    moves = 0
    while True:
        await settle(stack, clock)
        due = await stack.beacon.worker.next_due()
        if due is None:
            return moves
        clock.advance(due - clock.now())
        moves += 1
        assert moves < 2000, "the storm never drained"


def sends(stack: Stack, since: int) -> list[Any]:
    return [r for r in stack.teams.requests[since:]
            if r.operation in ("create_conversation", "reply", "send", "update")]


async def test_forty_incidents_at_once_into_one_channel_arrive_paced_without_a_429(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: Counter[int] = Counter()  # each incident card drawn, by incident: reads the incident, renders
    draw = TeamsPoster.card_activity

    async def counted(poster: TeamsPoster, incident_id: int) -> Any:
        drawn[incident_id] += 1
        return await draw(poster, incident_id)

    monkeypatch.setattr(TeamsPoster, "card_activity", counted)
    clock = FakeClock()
    config: dict[str, Any] = storm_config(services=INCIDENTS)
    async with beacon(database_url, config, clock=clock,
                      teams_conversation_limits=TEAMS_PER_CONVERSATION) as (stack, _, _):
        stack.teams.clock = lambda: clock.now().timestamp()
        stack.teams.rate_limits = True
        started, before = clock.now(), len(stack.teams.requests)
        # Two waves in the same instant: the first wave's notes already wait for their turns when
        # the second wave's incidents are declared, and still go after every root card.
        first, second = range(INCIDENTS // 2), range(INCIDENTS // 2, INCIDENTS)
        for wave in (first, second):
            await storm(stack, "firing", wave)
            await storm(stack, "resolved", wave)  # each incident: a note and a card update, behind its root
            await settle(stack, clock)
        moves = await until_delivered(stack, clock)

        rows: list[OutboxRow] = await outbox(stack)
        assert [(r.kind, r.last_error) for r in rows if r.status == "failed"] == []
        assert stack.teams.throttled() == []  # paced under the limits: Teams never had to refuse
        roots = [m for m in stack.teams.posted(CHANNEL_ID) if m.kind == "root"]
        numbers = Counter(int(card_text(m.cards[0]).split("INC-")[1].split(" ")[0].split('"')[0]) for m in roots)
        assert numbers == Counter({n: 1 for n in range(1, INCIDENTS + 1)})
        for root in roots:
            notes = [m.text for m in stack.teams.thread(root.id)]
            assert any("Monitoring reports" in (text or "") for text in notes), notes
            assert len(stack.teams.message(root.id).versions) <= 3  # card redraws coalesced

        # Every root card before any note or redraw, then the rest.
        made = [r for r in sends(stack, before) if r.status < 400]
        first_other = next(i for i, r in enumerate(made) if r.operation != "create_conversation")
        assert first_other == INCIDENTS, [r.operation for r in made[:50]]
        assert len(made) == 3 * INCIDENTS  # a root, a note and one redraw (coalesced) each
        # A card waiting for its turn is drawn when it goes, not again each time it is sent back
        # to wait: one draw per card sent (the root and its redraw).
        assert sum(drawn.values()) == sum(r.operation in ("create_conversation", "update") for r in made)
        assert (clock.now() - started).total_seconds() > 30  # 120 sends: the 61st waited for the 30 s window
        assert moves > 10  # Beacon waited for its turns instead of sending at once


async def test_reported_issues_into_the_triage_channel_are_paced_too(database_url: str) -> None:
    clock = FakeClock()
    paced = {"clock": clock, "teams_conversation_limits": TEAMS_PER_CONVERSATION}
    async with helpdesk(database_url, stack_settings=paced) as (stack, fd):
        stack.teams.clock = lambda: clock.now().timestamp()
        stack.teams.rate_limits = True
        subjects = [f"Report {n}: page {n} is blank" for n in range(12)]
        tickets = [await user_ticket(fd, subject) for subject in subjects]

        async def report(ticket: int, n: int) -> None:
            status, answer = await stack.beacon.post("/api/freshdesk", webhook(ticket, subjects[n]), headers=HOOK)
            assert status == 201, answer

        await asyncio.gather(*(report(ticket, n) for n, ticket in enumerate(tickets)))
        await until_delivered(stack, clock)
        assert stack.teams.throttled() == []
        cards = [m for m in stack.teams.posted(TRIAGE) if m.kind == "root"]
        assert len(cards) == len(tickets)
