"""Customers in the loop: the people who reported a problem hear Beacon's stakeholder updates and
the resolution as public replies on their own Freshdesk tickets, once each, in client-facing words,
and their tickets are resolved with the incident. Internal notes never reach them. Through
/api/freshdesk, the incident card's buttons and a fake Freshdesk that enforces its rate limit."""

from __future__ import annotations

import asyncio
import html
import re
from urllib.parse import urlsplit

from sqlalchemy import select

from services.store.tables import OutboxRow
from tests.e2e.customer_helpers import helpdesk, report
from tests.e2e.helpers import act, card_text, declare, eventually, settled
from tests.fakes.freshdesk import FakeFreshdesk
from tests.teams_activities import channel_message

CANARY = "CANARY-7731 db failover by hand, blame the vendor"
UPDATE = "Card payments fail for some customers. We are switching to our backup payment provider."
BUDGET = {"FRESHDESK_RESERVE_FOR_TICKETS": 0.2, "FRESHDESK_RATE_LIMIT_WINDOW_SECONDS": 2}


async def test_five_reporters_each_get_the_update_and_the_resolution_once_and_no_internal_note(database_url):
    fake = FakeFreshdesk(rate_limit_total=25, rate_limit_window=2.0)
    async with helpdesk(database_url, fake=fake, triage={"auto_link": True}, freshdesk=BUDGET,
                        intake={"FRESHDESK_PUBLIC_NOTES": "true"}) as (stack, fd):
        _, root = await declare(stack, "Payments API down", client="Contoso")
        await eventually(lambda: len(fd.tickets) == 1, what="the incident's own ticket")
        tickets, requesters = [], {}
        for person in ("dana", "erin", "finn", "gus", "hana"):
            ticket, outcome = await report(stack, fd, "Cannot pay", f"{person}@contoso.example")
            assert outcome == "linked"
            tickets.append(ticket)
            requesters[ticket] = f"{person}@contoso.example"
        await act(stack, root, "incident.note", note=CANARY)
        await act(stack, root, "incident.post_update", audience="responders", update=CANARY)
        await act(stack, root, "incident.post_update", audience="stakeholders", update=UPDATE)
        await settled(stack)
        await eventually(lambda: all(fd.replies(t) for t in tickets), timeout=15, what="a reply on every ticket")
        await settled(stack)

        for ticket in tickets:
            [reply] = fd.replies(ticket)  # once each
            text = reply["body_text"]
            assert UPDATE in text and "Payments API down" in text
            assert "Next update: by" in text and "Reference: INC-1-U1" in text
            assert "Avery (avery@example.com), your account manager" in text
            assert "Follow this and any other incident affecting you on your status page" in text
            assert reply["to_emails"] == [requesters[ticket]] and not reply["private"]
        assert fd.replies(1) == []  # Beacon's own ticket is not a customer's
        # The client's status page is linked, signed for its current link generation: it opens.
        status_link = re.search(r'href="([^"]*/status/Contoso\?[^"]*)"', fd.replies(tickets[0])[0]["body"])
        assert status_link is not None
        parts = urlsplit(html.unescape(status_link.group(1)))
        status, page = await stack.beacon.get_text(f"{parts.path}?{parts.query}")
        assert status == 200 and UPDATE in page

        await act(stack, root, "incident.resolve", summary="Switched to the backup payment provider")
        await settled(stack)
        await eventually(lambda: all(len(fd.replies(t)) == 2 for t in tickets), timeout=15,
                         what="the resolution reply on every ticket")
        await eventually(lambda: all(fd.ticket(t)["status"] == 4 for t in tickets), timeout=15,
                         what="every customer ticket resolved")
        await settled(stack)
        for ticket in tickets:
            update, resolution = fd.replies(ticket)
            assert "is resolved" in resolution["body_text"] and "Switched to the backup" in resolution["body_text"]
            assert "If you still see it, reply to this email" in resolution["body_text"]
            assert "Reference: INC-1-R" in resolution["body_text"] and update["id"] < resolution["id"]
            # The customer reads the answer before the ticket is marked resolved.
            posts = [r for r in fd.requests if r.path in (f"/api/v2/tickets/{ticket}/reply",
                                                          f"/api/v2/tickets/{ticket}")]
            assert [r.method for r in posts][-2:] == ["POST", "PUT"]
            assert fd.updates(ticket)[-1] == {"status": 4}

        everything_customers_read = " ".join(r["body"] for t in tickets for r in fd.replies(t))
        for internal in ("CANARY-7731", "Alice", "Bob", "responders", "P1", "impact high"):
            assert internal not in everything_customers_read, internal
        # Notes on customers' tickets stay private even with FRESHDESK_PUBLIC_NOTES=true, which
        # still makes the notes on Beacon's own ticket public.
        assert all(n["private"] for t in tickets for n in fd.notes(t))
        assert fd.notes(1) and not any(n["private"] for n in fd.notes(1))
        assert any("CANARY-7731" in n["body"] for n in fd.notes(1))
        assert fd.throttled == []
        async with stack.beacon.deps.uow() as uow:
            rows = list(await uow.session.scalars(select(OutboxRow).where(OutboxRow.kind == "freshdesk.reply")))
            timeline = await uow.timeline.of(1)
        assert len(rows) == 10 and {r.status for r in rows} == {"sent"}
        first = [e for e in timeline if e.kind == "customer_replied"]
        assert len(first) == 1 and "First public reply to a customer, on Freshdesk ticket #" in first[0].summary

        # `@Beacon metrics`: how many customers reported it, and how soon they first heard back.
        message = channel_message("metrics", service_url=stack.url)
        await stack.send(message)
        answer = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == message["id"]),
                                                           None), timeout=20)
        text = card_text(answer.cards[0])
        assert "Customer reports linked" in text and "5 to 1 incident" in text
        assert "INC-1 customers" in text and "5 reports linked · first public reply after under a minute" in text


async def test_automatic_stakeholder_updates_reach_no_customer(database_url):
    async with helpdesk(database_url, triage={"auto_link": True},
                        extra_config={"communications": {"stakeholder_update": "PT2S", "grace": "PT1S"}}
                        ) as (stack, fd):
        await declare(stack, "Payments API down", client="Contoso")
        ticket, outcome = await report(stack, fd, "Cannot pay", "dana@contoso.example")
        assert outcome == "linked"

        async def automatic() -> bool:
            async with stack.beacon.deps.uow() as uow:
                return any(e.kind == "status_update" and (e.after or {}).get("automatic")
                           and (e.after or {}).get("audience") == "stakeholders" for e in await uow.timeline.of(1))

        for _ in range(100):
            if await automatic():
                break
            await asyncio.sleep(0.2)
        assert await automatic(), "no automatic stakeholder update"
        await settled(stack)
        assert fd.replies(ticket) == []  # built from the timeline: not for customers
