"""What the poster of a stakeholder update reads on their own card, through /api/messages: each
route says what really happened to the update on it (sent, to how many, or why not), SMS says
whether this incident's first notice and resolution go by SMS at all, and the client's status-page
subscribers are counted; and what each line says is what the fake Graph and Twilio then receive."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.wiring import OutsideSettings
from services.config import parse_config
from services.graph import GraphSettings
from services.notify.sms.settings import SmsSettings
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack
from tests.e2e.helpers import act, card_text, declare, settled
from tests.e2e.test_status_subscriptions import mailbox, start, subscribed, to_reader
from tests.fakes.graph import FakeGraph
from tests.fakes.sms import FakeTwilio

__all__ = ["mailbox"]  # the fixture, from the status subscriptions' tests
pytestmark = pytest.mark.slow
NOBODY = "Status page subscribers: not sent: nobody besides the contacts above subscribed to Contoso's status page"


def routes_told(answer: dict[str, Any]) -> list[str]:
    """The poster's own lines under "on its way" (each route, one a line)."""
    lines = card_text(answer).splitlines()
    start = next(i for i, line in enumerate(lines) if "on its way (only you see this)" in line)
    return [line.removeprefix("• ") for line in lines[start + 1:] if line.startswith("• ")]


async def post(stack: Stack, root: Any, text: str) -> list[str]:
    answer = await act(stack, root, "incident.post_update", audience="stakeholders", update=text)
    await settled(stack)
    return routes_told(answer)


async def test_the_poster_is_told_how_many_status_page_subscribers_get_it(database_url: str,
                                                                          mailbox: FakeGraph) -> None:
    stack = await start(database_url, mailbox)
    try:
        _, root = await declare(stack, "Payments API down", client="Contoso")
        told = await post(stack, root, "Card payments fail for some customers.")
        assert NOBODY in told
        assert "SMS: not sent: SMS is not set up" in told  # no SMS provider here

        await subscribed(stack, mailbox)
        told = await post(stack, root, "We are switching to our backup payment provider.")
        assert "Status page subscribers: emailed to 1 subscriber of Contoso's status page" in told
        updates = [m.subject for m in to_reader(mailbox) if " on a problem: " in m.subject]
        assert len(updates) == 1 and re.fullmatch(r"\[INC-1\] Update \d+ on a problem: Payments API down", updates[0])

        _, drill = await declare(stack, "Practice: payments down", client="Contoso", drill="true")
        told = await post(stack, drill, "Practising the switch to the backup provider.")
        assert "Status page subscribers: not sent: this is a drill: nothing leaves the incident thread" in told
        assert not [m for m in to_reader(mailbox) if "Practice" in m.subject]  # nor does the page's email

        _, internal = await declare(stack, "Reports slow", service="web-portal")
        assert not [line for line in await post(stack, internal, "Reports are slow.") if "subscriber" in line]
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


SMS_CONFIG = parse_config({**E2E_CONFIG, "directory": {
    **E2E_CONFIG["directory"],
    "teams": [{"name": "payments", "members": [{"name": "Omar", "email": "omar@example.com"}]}, {"name": "web"}],
    "stakeholders": [{"name": "Service Desk", "email": "desk@example.com"}],
    "clients": [{"name": "Contoso", "account_owner": {"name": "Avery Owner", "email": "avery@example.com"},
                 "contacts": [{"name": "Casey", "email": "casey@contoso.example", "phone": "+15550000002"}]}],
}})


async def test_the_sms_line_says_whether_this_incident_goes_by_sms_and_to_how_many(database_url: str) -> None:
    async with FakeGraph() as graph, FakeTwilio() as twilio:
        outside = OutsideSettings(
            graph=GraphSettings(base_url=graph.base_url, access_token="t", mail_sender="noc@example.com"),
            sms=SmsSettings(provider="twilio", sender="+15550009999", twilio_base_url=twilio.url,
                            twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token))
        stack = await start_stack(database_url, SMS_CONFIG, outside=outside)
        try:
            _, client_root = await declare(stack, "Contoso checkout down", client="Contoso")
            told = await post(stack, client_root, "Card payments degraded, failover under way")
            assert ("SMS: not sent: updates go by email; this incident's first notice went by SMS to 1 phone "
                    "number, and its resolution will too") in told
            assert "Email: to 2 recipients (Contoso's contacts and Account Owner)" in told
            assert [s.to for s in twilio.sent] == ["+15550000002"]  # the first notice; the update went by none

            _, internal = await declare(stack, "Payments ledger stuck")  # high impact, nobody with a phone
            told = await post(stack, internal, "Ledger writes are queued")
            assert "SMS: not sent: nobody among the directory's stakeholders and the service's team has a " \
                   "phone number" in told

            _, low = await declare(stack, "Contoso invoices late", client="Contoso", impact="low", urgency="low",
                                   service="web-portal")
            told = await post(stack, low, "Invoices are delayed")
            assert ("SMS: not sent: updates go by email; SMS carries the first notice and the resolution of "
                    "incidents of high impact when declared, and this one was not") in told
            assert len(twilio.sent) == 1
        finally:
            await stack.beacon.stop()
            await stack.teams.stop()
