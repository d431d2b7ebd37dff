"""Beacon with a fake Freshdesk, set up for customers' reports: Contoso's people write in, Beacon
links their tickets to the incident and answers them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.config import parse_config
from services.freshdesk.settings import FreshdeskSettings
from services.intake.settings import IntakeSettings
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack, unconfigured
from tests.e2e.helpers import card_text
from tests.fakes._recording import Message
from tests.fakes.freshdesk import FakeFreshdesk
from tests.teams_activities import CHANNEL_ID, Users, card_action_invoke, installation_update

SECRET = "freshdesk-webhook-secret"
TRIAGE = "19:7a1b2c3d4e5f40718293a4b5c6d7e8f9@thread.tacv2"
HOOK = {"X-Beacon-Secret": SECRET}
CLIENTS = [{"name": "Contoso", "email_domains": ["contoso.example"],
            "account_owner": {"name": "Avery", "email": "avery@example.com"}},
           {"name": "Fabrikam", "email_domains": ["fabrikam.example"]}]


@asynccontextmanager
async def helpdesk(database_url: str, *, fake: FakeFreshdesk | None = None, triage: dict[str, Any] | None = None,
                   extra_config: dict[str, Any] | None = None, freshdesk: dict[str, Any] | None = None,
                   intake: dict[str, Any] | None = None, **settings: Any) -> AsyncIterator[tuple[Stack, FakeFreshdesk]]:
    fd = fake or FakeFreshdesk()
    await fd.start()
    config = parse_config({**E2E_CONFIG, "directory": {**E2E_CONFIG["directory"], "clients": CLIENTS},
                           "report_triage": triage or {},
                           "channels": {"incidents_channel": CHANNEL_ID, "triage_channel": TRIAGE},
                           **(extra_config or {})})
    outside = unconfigured()
    outside.extra = {
        "intake": IntakeSettings(_env_file=None, **{  # type: ignore[call-arg, arg-type]
            "FRESHDESK_REQUESTER_EMAIL": "noc@example.com", **(intake or {})}),
        "freshdesk": FreshdeskSettings(_env_file=None, **{  # type: ignore[call-arg, arg-type]
            "FRESHDESK_URL": fd.url, "FRESHDESK_API_KEY": fd.api_key, "FRESHDESK_WEBHOOK_SECRET": SECRET,
            **(freshdesk or {})}),
    }
    stack = await start_stack(database_url, config, outside=outside, **settings)
    try:
        await stack.send(installation_update(service_url=stack.url))
        yield stack, fd
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
        await fd.stop()


async def customer_ticket(fd: FakeFreshdesk, subject: str, email: str) -> int:
    """A ticket a customer opened by email, as it exists in Freshdesk (made outside Beacon)."""
    async with httpx.AsyncClient(base_url=fd.url, auth=(fd.api_key, "X")) as client:
        response = await client.post("/api/v2/tickets", json={
            "subject": subject, "description": "<div>Reported by email</div>", "email": email,
            "priority": 2, "status": 2, "source": 1})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def webhook(ticket_id: int, subject: str, email: str, company: str = "", **fields: Any) -> dict[str, Any]:
    """The automation rule's body as README documents it, placeholders substituted by Freshdesk."""
    return {"ticket_id": str(ticket_id), "subject": subject, "description": f"<div>{subject}</div>",
            "priority": "Medium", "requester_email": email, "company": company or "{{ticket.company.name}}",
            "tags": "", "url": "{{ticket.url}}", **fields}


async def report(stack: Stack, fd: FakeFreshdesk, subject: str, email: str, **fields: Any) -> tuple[int, str]:
    """A customer writes in and Freshdesk's rule posts the ticket to Beacon: (ticket, outcome)."""
    ticket = await customer_ticket(fd, subject, email)
    status, answer = await stack.beacon.post("/api/freshdesk", webhook(ticket, subject, email, **fields),
                                             headers=HOOK)
    assert status in (200, 201), answer
    return ticket, str(answer["report"])


async def report_card(stack: Stack, ticket_id: int) -> Message:
    return await stack.teams.wait_for(lambda t: next(
        (m for m in t.posted(TRIAGE) if m.kind == "root" and f"Freshdesk #{ticket_id}" in card_text(m.cards[0])),
        None), timeout=20)


def action_titles(card: dict[str, Any]) -> list[str]:
    return [str(a.get("title")) for a in card.get("actions", [])]


async def click(stack: Stack, message: Message, verb: str, ticket_id: int, user: Any = Users.BOB,
                **data: Any) -> dict[str, Any]:
    return await stack.invoke_card(card_action_invoke(
        verb, {"ticketId": str(ticket_id), **data}, reply_to_id=message.id, service_url=stack.url,
        channel_id=TRIAGE, from_user=user))
