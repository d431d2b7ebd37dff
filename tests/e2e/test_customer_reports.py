"""Customers in the loop, first part: a customer's report that matches an open incident is offered
"Link to INC-n" first; with report_triage.auto_link it is linked on receipt, with an Unlink button;
the incident card counts the customers who reported it. Through /api/freshdesk, the triage card's
buttons and the fake Freshdesk."""

from __future__ import annotations

from sqlalchemy import select

from services.intake.tables import TicketLinkRow
from tests.e2e.customer_helpers import action_titles, click, helpdesk, report, report_card
from tests.e2e.helpers import act, card_text, declare, eventually, settled


async def test_a_matching_report_is_offered_link_first_and_joins_the_incident(database_url):
    async with helpdesk(database_url) as (stack, fd):
        _, root = await declare(stack, "Payments API down", client="Contoso")
        await eventually(lambda: len(fd.tickets) == 1, what="the incident's ticket")
        ticket, outcome = await report(stack, fd, "Cannot pay", "dana@contoso.example")
        other, _ = await report(stack, fd, "Invoice missing", "erin@fabrikam.example")
        assert outcome == "new"
        card = await report_card(stack, ticket)
        titles = action_titles(card.cards[0])
        assert titles[0] == "Link to INC-1", titles  # first, before Declare, Merge and Dismiss
        assert "same client Contoso" in card_text(card.cards[0])
        assert "Link to" not in " ".join(action_titles((await report_card(stack, other)).cards[0]))

        answer = await click(stack, card, "report.link", ticket, incidentId="1")
        assert "Linked to INC-1 by Bob Singh" in card_text(answer)
        assert "Link to INC-1" not in action_titles(answer) and "Unlink" in action_titles(answer)
        await settled(stack)
        await stack.teams.wait_for(lambda _: "Reported by 1 customer (Freshdesk)" in card_text(root.cards[0]) or None)
        again = await click(stack, card, "report.link", ticket, incidentId="1")
        assert "already decided" in card_text(again)
        async with stack.beacon.deps.uow() as uow:
            links = list(await uow.session.scalars(select(TicketLinkRow).where(TicketLinkRow.ticket_id == ticket)))
        assert [(link.incident_id, link.role) for link in links] == [(1, "linked")]
        stack.every_card_is_valid()


async def test_with_auto_link_reports_are_linked_on_receipt_and_can_be_unlinked(database_url):
    async with helpdesk(database_url, triage={"auto_link": True}) as (stack, fd):
        _, root = await declare(stack, "Payments API down", client="Contoso")
        tickets = []
        for person in ("dana", "erin", "finn", "gus", "hana"):
            ticket, outcome = await report(stack, fd, "Checkout broken", f"{person}@contoso.example")
            assert outcome == "linked"
            tickets.append(ticket)
        unrelated, outcome = await report(stack, fd, "Invoice missing", "ivy@fabrikam.example")
        assert outcome == "new"
        await settled(stack)
        await stack.teams.wait_for(lambda _: "Reported by 5 customers (Freshdesk)" in card_text(root.cards[0]) or None)
        card = await report_card(stack, tickets[0])
        await stack.teams.wait_for(lambda _: "Linked to INC-1 automatically" in card_text(card.cards[0]) or None)
        assert action_titles(card.cards[0])[0] == "Unlink"

        answer = await click(stack, card, "report.unlink", tickets[0])
        assert "back in triage" in card_text(answer)
        assert action_titles(answer)[0] == "Link to INC-1"  # offered again, no longer automatic
        await settled(stack)
        await stack.teams.wait_for(lambda _: "Reported by 4 customers (Freshdesk)" in card_text(root.cards[0]) or None)
        again = await click(stack, card, "report.unlink", tickets[0])
        assert "not linked" in card_text(again)
        async with stack.beacon.deps.uow() as uow:
            summaries = [e.summary for e in await uow.timeline.of(1)]
        assert sum("automatically linked Freshdesk ticket" in s for s in summaries) == 5
        assert any(f"Bob Singh unlinked Freshdesk ticket #{tickets[0]}" in s for s in summaries)
        assert all(f"#{unrelated}" not in s for s in summaries)
        stack.every_card_is_valid()


async def test_a_report_naming_the_service_is_offered_link_while_the_incident_is_open(database_url):
    """No client is known for the requester: the service's keywords make the match, and only
    while the incident lasts."""
    triage = {"service_keywords": {"payments-api": ["checkout", "card payment"]}}
    async with helpdesk(database_url, triage=triage) as (stack, fd):
        _, root = await declare(stack, "Payments API down", service="payments-api")
        ticket, outcome = await report(stack, fd, "Checkout fails with a card payment error", "walk.in@mail.example")
        assert outcome == "new"
        card = await report_card(stack, ticket)
        assert action_titles(card.cards[0])[0] == "Link to INC-1"
        assert "service payments-api" in card_text(card.cards[0]) and "same client" not in card_text(card.cards[0])

        await act(stack, root, "incident.resolve", summary="Rolled back")
        await settled(stack)
        later, outcome = await report(stack, fd, "Checkout still fails", "other.walk.in@mail.example")
        assert outcome == "new"
        assert "Link to" not in " ".join(action_titles((await report_card(stack, later)).cards[0]))
        stack.every_card_is_valid()
