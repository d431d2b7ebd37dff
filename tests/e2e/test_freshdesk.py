"""Issue 5, Freshdesk both ways, through real HTTP: a ticket for every incident that follows it
(against a fake Freshdesk, faults included), and reported issues from Freshdesk's automation
webhook triaged on a card in Teams: declare, merge, dismiss."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import func, select

from services.config import parse_config
from services.freshdesk.settings import FreshdeskSettings
from services.intake.settings import IntakeSettings
from services.intake.tables import ReportRow, TicketLinkRow
from services.store.tables import IncidentRow, OutboxRow
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack, unconfigured
from tests.e2e.helpers import act, card_text, declare, eventually, incident_root, settled
from tests.fakes.freshdesk import RECORDED, FakeFreshdesk
from tests.teams_activities import CHANNEL_ID, Users, card_action_invoke, installation_update

SECRET = "freshdesk-webhook-secret"
TRIAGE = "19:7a1b2c3d4e5f40718293a4b5c6d7e8f9@thread.tacv2"
HOOK = {"X-Beacon-Secret": SECRET}


class SearchableFreshdesk(FakeFreshdesk):
    """The fake plus Freshdesk's ticket search by tag (`query="tag:'INC-1'"`)."""

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        app.router.add_get("/api/v2/search/tickets", self._search)

    async def _search(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"\"tag:'([^']+)'\"", request[RECORDED].query.get("query", ""))
        tag = match.group(1) if match else None
        found = [t for t in self.tickets if tag in t["tags"]]
        return web.json_response({"results": found, "total": len(found)})


@pytest.fixture(autouse=True)
def no_outside_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("FRESHDESK_", "ALERTS_"))]:
        monkeypatch.delenv(name)


@asynccontextmanager
async def helpdesk(database_url: str, *, secret: str = SECRET, fake: FakeFreshdesk | None = None,
                   directory: dict[str, Any] | None = None, mail_sender: str = "",
                   communications: dict[str, str] | None = None, stack_settings: dict[str, Any] | None = None,
                   **intake: Any) -> AsyncIterator[tuple[Stack, FakeFreshdesk]]:
    fd = fake or FakeFreshdesk()
    await fd.start()
    config = parse_config({**E2E_CONFIG, "directory": directory or E2E_CONFIG["directory"],
                           "communications": communications or {},
                           "channels": {"incidents_channel": CHANNEL_ID, "triage_channel": TRIAGE}})
    outside = unconfigured()
    assert outside.graph is not None
    outside.graph = outside.graph.model_copy(update={"mail_sender": mail_sender})
    settings = {"FRESHDESK_REQUESTER_EMAIL": "noc@example.com", **intake}
    outside.extra = {
        "intake": IntakeSettings(_env_file=None, **settings),  # type: ignore[call-arg, arg-type]
        "freshdesk": FreshdeskSettings(_env_file=None, FRESHDESK_URL=fd.url,  # type: ignore[call-arg]
                                       FRESHDESK_API_KEY=fd.api_key, FRESHDESK_WEBHOOK_SECRET=secret),
    }
    stack = await start_stack(database_url, config, outside=outside, **(stack_settings or {}))
    try:
        await stack.send(installation_update(service_url=stack.url))
        yield stack, fd
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
        await fd.stop()


async def count(stack: Stack, table: Any) -> int:
    async with stack.beacon.deps.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(table)) or 0)


# -- outbound: a ticket for every incident ------------------------------------------------------

async def test_a_declared_incident_gets_a_ticket_that_follows_it(database_url):
    fields = '{"cf_incident": "{number}", "cf_origin": "beacon", "cf_weight": 3}'
    async with helpdesk(database_url, FRESHDESK_CUSTOM_FIELDS=fields) as (stack, fd):
        _, root = await declare(stack, "Payments API down")
        await eventually(lambda: len(fd.tickets) == 1, what="the ticket")
        [body] = fd.created
        assert body["subject"] == "[INC-1] Payments API down"
        assert (body["priority"], body["status"], body["tags"], body["email"]) == (4, 2, ["beacon", "INC-1"],
                                                                                  "noc@example.com")
        assert body["custom_fields"] == {"cf_incident": "INC-1", "cf_origin": "beacon", "cf_weight": 3}
        assert "teams.microsoft.com/l/message/" in body["description"] and "<b>INC-1</b>" in body["description"]
        await stack.teams.wait_for(lambda _: "Freshdesk #1" in card_text(root.cards[0]) or None, timeout=20)
        assert f"{fd.url}/a/tickets/1" in card_text(root.cards[0])

        for verb, data in (("incident.reassess", {"impact": "medium", "urgency": "high"}),
                           ("incident.post_update", {"audience": "responders", "update": "Rolling back 4.2"}),
                           ("incident.status", {"status": "investigating"}),
                           ("incident.resolve", {"summary": "Release 4.2 rolled back"}),
                           ("incident.close", {})):
            await act(stack, root, verb, **data)
            await settled(stack)
        await eventually(lambda: len(fd.updates(1)) == 3 and len(fd.notes(1)) == 2, what="ticket changes")
        assert fd.updates(1) == [{"priority": 3}, {"status": 4}, {"status": 5}]  # P2; resolved; closed
        notes = fd.notes(1)
        assert "Rolling back 4.2" in notes[0]["body"] and "Release 4.2 rolled back" in notes[1]["body"]
        assert all(note["private"] for note in notes)
        stack.every_card_is_valid()


async def test_without_a_requester_setting_tickets_are_filed_as_the_declarer_else_mail_sender(database_url):
    """Freshdesk refuses a ticket without a requester: an internal incident is filed as whoever
    declared it (their email in the directory), else as Beacon's own mailbox (MAIL_SENDER)."""
    alice = {"name": Users.ALICE.name, "aad_object_id": Users.ALICE.aad_object_id, "email": "alice@contoso.example"}
    directory = {**E2E_CONFIG["directory"], "stakeholders": [alice]}
    async with helpdesk(database_url, directory=directory, mail_sender="beacon@contoso.example",
                        FRESHDESK_REQUESTER_EMAIL="") as (stack, fd):
        await declare(stack, "Payments API down", client="")
        await eventually(lambda: len(fd.tickets) == 1, what="Alice's ticket")
        await declare(stack, "Search slow", from_user=Users.CAROL, client="")
        await eventually(lambda: len(fd.tickets) == 2, what="Carol's ticket")
        assert [body["email"] for body in fd.created] == ["alice@contoso.example", "beacon@contoso.example"]
        assert [t["requester_id"] for t in fd.tickets][0] != [t["requester_id"] for t in fd.tickets][1]


async def test_a_ticket_without_a_requester_is_refused_as_freshdesk_refuses_it(database_url):
    async with FakeFreshdesk() as fd, httpx.AsyncClient(base_url=fd.url, auth=(fd.api_key, "X")) as http:
        answer = await http.post("/api/v2/tickets", json={"subject": "[INC-1] Down", "description": "<p>x</p>",
                                                          "priority": 4, "status": 2})
    assert answer.status_code == 400 and fd.tickets == []
    assert answer.json() == {"description": "Validation failed", "errors": [{
        "field": "requester_id", "code": "missing_field",
        "message": "Please fill at least 1 of requester_id, phone, email, twitter_id, facebook_id, "
                   "unique_external_id fields"}]}


async def test_every_automatic_update_reaches_the_ticket_as_one_private_note(database_url):
    """Nobody posts: Beacon's automatic updates (the scheduler's batches) are notes on the ticket,
    each once, as the updates people post are."""
    cadence = {"responder_update_high": "PT2S", "stakeholder_update": "PT1H", "grace": "PT0.5S"}
    async with helpdesk(database_url, communications=cadence) as (stack, fd):
        _, root = await declare(stack, "Checkout failing")
        await eventually(lambda: len(fd.tickets) == 1, what="the ticket")

        def automatic() -> list[dict[str, Any]]:
            return [n for n in fd.notes(1) if "Beacon (automatic)" in n["body"]]

        await eventually(lambda: len(automatic()) >= 2, what="two automatic updates on the ticket", timeout=20)
        await act(stack, root, "incident.resolve", summary="Rolled back")
        await settled(stack)
        posted = [card_text(m.cards[0]) for m in stack.teams.thread(root.id)
                  if m.cards and "Automatic responders update" in card_text(m.cards[0])]
        notes = automatic()
        assert len(notes) == len(posted) >= 2  # one note per automatic update, none twice
        assert all(n["private"] and "INC-1 responders update" in n["body"] for n in notes)
        assert "INC-1 is triage at P1." in notes[0]["body_text"]


async def test_a_rate_limited_create_is_retried_after_retry_after_and_makes_one_ticket(database_url):
    async with helpdesk(database_url) as (stack, fd):
        fd.fail_next(1, 429, retry_after=0.3, path_contains="/api/v2/tickets")
        await declare(stack, "Checkout slow")
        await eventually(lambda: len(fd.tickets) == 1, what="the ticket")
        await settled(stack)
        assert len(fd.requests_to("/api/v2/tickets", "POST")) == 2 and len(fd.tickets) == 1
        async with stack.beacon.deps.uow() as uow:
            effect = await uow.session.scalar(select(OutboxRow).where(OutboxRow.kind == "freshdesk.create"))
            link = await uow.session.scalar(select(TicketLinkRow))
        # Freshdesk asked Beacon to slow down: that is not a failed attempt.
        assert effect is not None and (effect.status, effect.attempts) == ("sent", 1)
        assert link is not None and (link.ticket_id, link.state) == (1, "linked")


async def test_a_lost_answer_is_found_by_search_instead_of_creating_a_second_ticket(database_url):
    async with helpdesk(database_url, fake=SearchableFreshdesk()) as (stack, fd):
        fd.fail_next(1, 503, after_handling=True, path_contains="/api/v2/tickets")
        await declare(stack, "Checkout slow")
        await settled(stack)
        await eventually(lambda: bool(fd.requests_to("/search/tickets")), what="the search")
        await settled(stack)
        assert len(fd.tickets) == 1 and len(fd.requests_to("/api/v2/tickets", "POST")) == 1
        async with stack.beacon.deps.uow() as uow:
            link = await uow.session.scalar(select(TicketLinkRow))
        assert link is not None and link.ticket_id == 1


# -- inbound: reported issues ---------------------------------------------------------------------

async def user_ticket(fd: FakeFreshdesk, subject: str) -> int:
    """A ticket a customer opened (by email or the portal), as it exists in Freshdesk."""
    async with httpx.AsyncClient(base_url=fd.url, auth=(fd.api_key, "X")) as client:
        response = await client.post("/api/v2/tickets", json={
            "subject": subject, "description": "<div>Reported by email</div>", "email": "casey@contoso.example",
            "priority": 3, "status": 2, "source": 1})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def webhook(ticket_id: int, subject: str, **fields: Any) -> dict[str, Any]:
    """The automation rule's body as README documents it, placeholders substituted by Freshdesk."""
    return {"ticket_id": str(ticket_id), "subject": subject,
            "description": "<div>Checkout fails for <b>all users</b> since 10:00.<br>Please help.</div>",
            "priority": "High", "requester_email": "Casey <casey@contoso.example>", "company": "Contoso",
            "tags": "checkout, web", "url": "{{ticket.url}}", **fields}


async def report_card(stack: Stack, ticket_id: int) -> Any:
    return await stack.teams.wait_for(lambda t: next(
        (m for m in t.posted(TRIAGE) if m.kind == "root" and f"Freshdesk #{ticket_id}" in card_text(m.cards[0])),
        None), timeout=20)


async def click(stack: Stack, message: Any, verb: str, ticket_id: int, user: Any = Users.BOB,
                **data: Any) -> dict[str, Any]:
    return await stack.invoke_card(card_action_invoke(
        verb, {"ticketId": str(ticket_id), **data}, reply_to_id=message.id, service_url=stack.url,
        channel_id=TRIAGE, from_user=user))


async def test_a_report_is_triaged_once_then_declared_with_its_ticket(database_url):
    async with helpdesk(database_url) as (stack, fd):
        ticket = await user_ticket(fd, "Checkout down for everyone")
        status, answer = await stack.beacon.post("/api/freshdesk", webhook(ticket, "Checkout down for everyone"),
                                                 headers=HOOK)
        assert (status, answer) == (201, {"ticket_id": ticket, "report": "new", "status": "new"})
        status, answer = await stack.beacon.post("/api/freshdesk", webhook(ticket, "Checkout down"), headers=HOOK)
        assert (status, answer["report"]) == (200, "duplicate")
        card = await report_card(stack, ticket)
        text = card_text(card.cards[0])
        assert "Checkout down for everyone" in text and "Suggested **P1**" in text  # "all users", priority High
        assert "company 'Contoso' is client Contoso" in text and "Merge into" not in text  # nothing open yet
        await settled(stack)
        assert len([m for m in stack.teams.posted(TRIAGE) if m.kind == "root"]) == 1

        answer = await click(stack, card, "report.declare", ticket, title="Checkout down", impact="high",
                             urgency="high", service="payments-api", client="Contoso")
        assert "INC-1 declared from this report" in card_text(answer)
        root = await incident_root(stack, 1)
        await settled(stack)
        assert "Declared as INC-1 by Bob Singh" in card_text(card.cards[0])  # redrawn for everyone
        assert f"#{ticket} (reported)" in card_text(root.cards[0])
        assert len(fd.tickets) == 1  # the report's ticket is the incident's ticket: none created
        await eventually(lambda: len(fd.notes(ticket)) == 1 and fd.updates(ticket), what="ticket linked")
        assert "Declared as Beacon incident <b>INC-1</b>" in fd.notes(ticket)[0]["body"]
        assert fd.updates(ticket) == [{"priority": 4, "status": 2}]
        again = await click(stack, card, "report.declare", ticket, title="Checkout down")
        assert "already decided" in card_text(again) and await count(stack, IncidentRow) == 1
        stack.every_card_is_valid()


async def test_reports_merge_into_an_open_incident_or_are_dismissed_with_a_reason(database_url):
    async with helpdesk(database_url) as (stack, fd):
        _, root = await declare(stack, "Payments API down")
        await eventually(lambda: len(fd.tickets) == 1, what="the incident's ticket")
        second, third = await user_ticket(fd, "Cannot pay"), await user_ticket(fd, "Password reset")
        for ticket, subject in ((second, "Cannot pay"), (third, "Password reset")):
            assert (await stack.beacon.post("/api/freshdesk", webhook(ticket, subject), headers=HOOK))[0] == 201
        merge_card, dismiss_card = await report_card(stack, second), await report_card(stack, third)
        assert "INC-1 P1 · Payments API down" in card_text(merge_card.cards[0])

        answer = await click(stack, merge_card, "report.merge", second, incidentId="1")
        assert "Merged into INC-1 by Bob Singh" in card_text(answer)
        answer = await click(stack, dismiss_card, "report.dismiss", third, reason="")
        assert "reason is required" in card_text(answer)
        answer = await click(stack, dismiss_card, "report.dismiss", third, reason="A password reset, not an outage")
        assert "Dismissed by Bob Singh: A password reset, not an outage" in card_text(answer)
        await settled(stack)
        await eventually(lambda: fd.notes(second) and fd.notes(third), what="notes on both tickets")
        assert "Merged into Beacon incident <b>INC-1</b>" in fd.notes(second)[0]["body"]
        assert "A password reset, not an outage" in fd.notes(third)[0]["body"]
        assert f"#1, #{second} (merged)" in card_text(root.cards[0])
        async with stack.beacon.deps.uow() as uow:
            summaries = [e.summary for e in await uow.timeline.of(1)]
        assert any(f"Bob Singh merged Freshdesk ticket #{second}: Cannot pay" in s for s in summaries)

        await act(stack, root, "incident.resolve", summary="Gateway restarted")
        await settled(stack)
        await eventually(lambda: {4} == {u.get("status") for u in fd.updates(1) + fd.updates(second)},
                         what="both tickets resolved")
        stack.every_card_is_valid()


async def test_the_webhook_needs_its_secret_and_a_documented_body(database_url):
    async with helpdesk(database_url) as (stack, _):
        body = webhook(77, "Checkout down")
        for headers in ({}, {"X-Beacon-Secret": "wrong"}):
            status, answer = await stack.beacon.post("/api/freshdesk", body, headers=headers)
            assert status == 401 and "X-Beacon-Secret" in answer["error"]
        status, answer = await stack.beacon.post("/api/freshdesk", raw=b"ticket_id=77",
                                                 headers={**HOOK, "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 415
        for bad, problem in (({**body, "ticket_id": "{{ticket.id}}"}, "placeholder"), ([body], "JSON object"),
                             ({**body, "priority": "Whenever"}, "priority")):
            status, answer = await stack.beacon.post("/api/freshdesk", bad, headers=HOOK)
            assert status == 400 and problem in answer["error"], answer
        own = webhook(78, "[INC-1] Payments API down", tags="beacon, INC-1")
        assert (await stack.beacon.post("/api/freshdesk", own, headers=HOOK))[1]["report"] == "ignored"
        assert await count(stack, ReportRow) == 0


async def test_during_a_rotation_the_old_and_the_new_secret_both_work(database_url):
    """FRESHDESK_WEBHOOK_SECRET lists the old and the new secret while the automation rule moves over."""
    async with helpdesk(database_url, secret="old-fd-secret , new-fd-secret") as (stack, _):
        for refused in ("third-fd-secret", "old-fd-secret , new-fd-secret", "", ","):
            status, answer = await stack.beacon.post("/api/freshdesk", webhook(79, "Checkout down"),
                                                     headers={"X-Beacon-Secret": refused})
            assert status == 401 and "X-Beacon-Secret" in answer["error"], refused
        assert await count(stack, ReportRow) == 0
        for ticket, secret in ((77, "old-fd-secret"), (78, "new-fd-secret")):
            status, answer = await stack.beacon.post("/api/freshdesk", webhook(ticket, "Checkout down"),
                                                     headers={"X-Beacon-Secret": secret})
            assert status == 201 and answer["ticket_id"] == ticket, answer
        assert await count(stack, ReportRow) == 2


async def test_without_a_configured_secret_the_webhook_is_refused(database_url):
    async with helpdesk(database_url, secret="") as (stack, _):
        status, answer = await stack.beacon.post("/api/freshdesk", webhook(77, "x"), headers={"X-Beacon-Secret": ""})
        assert status == 503 and "FRESHDESK_WEBHOOK_SECRET is not set" in answer["error"]
