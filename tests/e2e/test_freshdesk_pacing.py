"""Freshdesk's rate limit end to end, with the fake enforcing it (a small budget per short window):
Beacon's calls stay under it, a new incident's ticket is created at once while a backlog of notes
waits for the next window, and waiting is never a failed attempt."""

from __future__ import annotations

from sqlalchemy import select

from services.store.tables import OutboxRow
from tests.e2e.customer_helpers import helpdesk
from tests.e2e.helpers import act, declare, eventually, settled
from tests.fakes.freshdesk import FakeFreshdesk

BUDGET = {"FRESHDESK_RESERVE_FOR_TICKETS": 0.5, "FRESHDESK_RATE_LIMIT_WINDOW_SECONDS": 2}


async def test_a_new_incidents_ticket_goes_before_a_backlog_of_notes_and_nothing_hits_429(database_url):
    fake = FakeFreshdesk(rate_limit_total=8, rate_limit_window=2.0)
    async with helpdesk(database_url, fake=fake, freshdesk=BUDGET) as (stack, fd):
        _, root = await declare(stack, "Payments API down")
        await eventually(lambda: len(fd.tickets) == 1, what="INC-1's ticket")
        for n in range(8):
            await act(stack, root, "incident.post_update", audience="responders", update=f"Progress {n}")
        await eventually(lambda: len(fd.notes(1)) >= 3, what="the first notes")
        await declare(stack, "Search slow", service="web-portal")
        await eventually(lambda: len(fd.tickets) == 2 and len(fd.notes(1)) == 8, timeout=30,
                         what="INC-2's ticket and every note")
        await settled(stack)
        # INC-2's ticket went ahead of the backlog, which was waiting for the reserve to be free.
        calls = [r.path for r in fd.requests]
        created = [i for i, path in enumerate(calls) if path == "/api/v2/tickets"]
        notes = [i for i, path in enumerate(calls) if path == "/api/v2/tickets/1/notes"]
        assert len(created) == 2 and created[1] < notes[-1], calls
        bodies = [n["body_text"] for n in fd.notes(1)]
        assert len(set(bodies)) == 8  # each update once
        assert fd.throttled == []  # paced under the limit: Freshdesk never had to refuse a call
        async with stack.beacon.deps.uow() as uow:
            rows = list(await uow.session.scalars(select(OutboxRow).where(OutboxRow.kind.like("freshdesk.%"))))
        assert {r.status for r in rows} == {"sent"}
        assert {r.attempts for r in rows} == {1}  # waiting for the budget used up no attempt
