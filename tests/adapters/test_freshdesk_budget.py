"""Freshdesk's rate limit, against the fake that enforces it as Freshdesk documents it: Beacon reads
the budget from each answer, keeps a reserve for new incidents' tickets and honours Retry-After
without spending calls on it."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from services.delivery import TransientDeliveryError
from services.freshdesk.client import FreshdeskClient
from services.freshdesk.settings import FreshdeskSettings
from services.ports import TicketRequest
from tests.fakes.freshdesk import FakeFreshdesk

API_KEY = "fd-test-api-key"


@pytest.fixture(autouse=True)
def no_freshdesk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("FRESHDESK_")]:
        monkeypatch.delenv(name)


def settings(url: str, **extra: object) -> FreshdeskSettings:
    values = {"FRESHDESK_URL": url, "FRESHDESK_API_KEY": API_KEY, **extra}
    return FreshdeskSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def request(subject: str = "[INC-1] Checkout down") -> TicketRequest:
    return TicketRequest(subject=subject, description_html="<p>x</p>", priority=4, status=2,
                         tags=("beacon", "INC-1"), requester_email="noc@example.com", custom_fields={})


async def test_the_fake_refuses_calls_over_the_limit_with_retry_after_until_the_window_turns() -> None:
    async with FakeFreshdesk(API_KEY, rate_limit_total=3, rate_limit_window=1.0) as fd:
        async with httpx.AsyncClient(base_url=fd.url, auth=(API_KEY, "X")) as http:
            answers = [await http.get("/api/v2/tickets") for _ in range(4)]
            assert [a.status_code for a in answers] == [200, 200, 200, 429]
            assert [a.headers.get("X-Ratelimit-Remaining") for a in answers[:3]] == ["2", "1", "0"]
            assert answers[0].headers["X-Ratelimit-Total"] == "3"
            assert answers[0].headers["X-Ratelimit-Used-CurrentRequest"] == "1"
            assert answers[3].headers["Retry-After"] == "1" and "X-Ratelimit-Remaining" not in answers[3].headers
            wrong = await http.get("/api/v2/tickets", auth=("wrong-key", "X"))
            assert wrong.status_code == 429  # invalid requests count too: refused before anything else
            await asyncio.sleep(1.05)
            assert (await http.get("/api/v2/tickets")).status_code == 200
        assert len(fd.throttled) == 2


async def test_updates_and_notes_leave_the_reserve_to_new_incidents_tickets() -> None:
    async with FakeFreshdesk(API_KEY, rate_limit_total=5, rate_limit_window=30.0) as fd:
        async with FreshdeskClient(settings(fd.url, FRESHDESK_RESERVE_FOR_TICKETS=0.4,
                                                   FRESHDESK_RATE_LIMIT_WINDOW_SECONDS=30)) as client:
            ticket = await client.create_ticket(request())
            await client.add_note(ticket.id, "<p>one</p>", private=True)
            await client.update_ticket(ticket.id, status=3)  # 2 of 5 left now: the reserve
            with pytest.raises(TransientDeliveryError) as held:
                await client.add_note(ticket.id, "<p>two</p>", private=True)
            assert held.value.status == 429 and held.value.retry_after is not None
            assert 25 < held.value.retry_after <= 30  # until the window has certainly turned
            assert "reserve for new incidents' tickets" in str(held.value)
            assert len(fd.requests) == 3  # held back without spending a call

            second = await client.create_ticket(request("[INC-2] Search slow"))
            third = await client.create_ticket(request("[INC-3] Login fails"))
            assert (second.id, third.id) == (2, 3)
            with pytest.raises(TransientDeliveryError):  # nothing left at all: not even a ticket
                await client.create_ticket(request("[INC-4] Mail delayed"))
            assert fd.throttled == [] and len(fd.tickets) == 3


async def test_a_429_holds_every_call_until_retry_after_has_passed() -> None:
    async with FakeFreshdesk(API_KEY, rate_limit_total=100) as fd:
        async with FreshdeskClient(settings(fd.url)) as client:
            fd.fail_next(1, 429, retry_after=1)
            with pytest.raises(TransientDeliveryError) as first:
                await client.create_ticket(request())
            assert first.value.retry_after == 1 and first.value.status == 429
            with pytest.raises(TransientDeliveryError) as waiting:
                await client.create_ticket(request())
            assert waiting.value.status == 429 and 0 < (waiting.value.retry_after or 0) <= 1
            assert len(fd.requests) == 1  # the second call did not go to hear the same 429
            await asyncio.sleep(1.05)
            assert (await client.create_ticket(request())).id == 1


async def test_concurrent_calls_in_flight_count_against_the_reserve() -> None:
    async with FakeFreshdesk(API_KEY, rate_limit_total=10, rate_limit_window=30.0) as fd:
        async with FreshdeskClient(settings(fd.url, FRESHDESK_RESERVE_FOR_TICKETS=0.5)) as client:
            ticket = await client.create_ticket(request())  # 9 left
            fd.delay_next(20, 0.2)
            outcomes = await asyncio.gather(*(client.add_note(ticket.id, f"<p>{n}</p>", private=True)
                                              for n in range(8)), return_exceptions=True)
            sent = [o for o in outcomes if not isinstance(o, BaseException)]
            # Only what the first answer allowed goes at once; the rest wait, none over the reserve.
            assert len(sent) == len(fd.notes(ticket.id)) <= 4
            assert all(isinstance(o, TransientDeliveryError) and o.status == 429
                       for o in outcomes if isinstance(o, BaseException))
            assert fd.rate_limit_remaining >= 5 and fd.throttled == []
