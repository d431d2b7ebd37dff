"""The Freshdesk client against a fake Freshdesk over real HTTP: bodies, auth, answers, errors."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.delivery import NotConfigured, PermanentDeliveryError, TransientDeliveryError
from services.freshdesk.client import FreshdeskClient, build_ticketing
from services.freshdesk.mapping import FreshdeskPriority, FreshdeskStatus, freshdesk_priority
from services.freshdesk.settings import FreshdeskSettings
from services.ports import Ticket, TicketRequest
from tests.fakes.freshdesk import FakeFreshdesk

DATA = Path(__file__).resolve().parents[1] / "data" / "freshdesk"
API_KEY = "fd-test-api-key"


@pytest.fixture(autouse=True)
def no_freshdesk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: not the developer's environment (nor .env, see settings())."""
    for name in [n for n in os.environ if n.startswith("FRESHDESK_")]:
        monkeypatch.delenv(name)


def settings(url: str, api_key: str = API_KEY, **extra: object) -> FreshdeskSettings:
    values = {"FRESHDESK_URL": url, "FRESHDESK_API_KEY": api_key, **extra}
    return FreshdeskSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def ticket_request(**changes: object) -> TicketRequest:
    fields: dict[str, object] = {
        "subject": "INC-42 P1: checkout down", "description_html": "<p>Checkout returns 500</p>",
        "priority": 4, "status": 2, "tags": ("beacon", "INC-42"), "requester_email": "noc@contoso.com",
        "custom_fields": {"cf_incident": "INC-42"},
    }
    fields.update(changes)
    return TicketRequest(**fields)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def fd() -> AsyncIterator[FakeFreshdesk]:
    async with FakeFreshdesk(API_KEY) as fake:
        yield fake


@pytest_asyncio.fixture
async def client(fd: FakeFreshdesk) -> AsyncIterator[FreshdeskClient]:
    async with FreshdeskClient(settings(fd.url, FRESHDESK_TIMEOUT_SECONDS=0.5)) as c:
        yield c


async def test_create_ticket_sends_the_documented_body_and_returns_the_agent_url(
        fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    first = await client.create_ticket(ticket_request())
    second = await client.create_ticket(ticket_request(subject="INC-43 P3: slow search", priority=2))

    assert first == Ticket(id=1, url=f"{fd.url}/a/tickets/1")
    assert second.id == 2
    request = fd.requests_to("/api/v2/tickets", "POST")[0]
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "subject": "INC-42 P1: checkout down", "description": "<p>Checkout returns 500</p>",
        "email": "noc@contoso.com", "priority": 4, "status": 2, "source": 2, "tags": ["beacon", "INC-42"],
        "custom_fields": {"cf_incident": "INC-42"},
    }
    stored = fd.ticket(1)
    assert stored["description_text"] == "Checkout returns 500"
    assert stored["custom_fields"] == {"cf_incident": "INC-42"}
    assert [t["subject"] for t in fd.tickets] == ["INC-42 P1: checkout down", "INC-43 P3: slow search"]
    assert client.rate_limit is not None and client.rate_limit.total == 700


async def test_no_custom_fields_are_sent_when_there_are_none(fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    await client.create_ticket(ticket_request(custom_fields={}))
    assert "custom_fields" not in fd.created[0]


async def test_update_sends_only_the_given_fields_and_notes_are_added(
        fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    ticket = await client.create_ticket(ticket_request())

    await client.update_ticket(ticket.id, status=FreshdeskStatus.RESOLVED)
    await client.update_ticket(ticket.id, priority=2, status=3)
    await client.update_ticket(ticket.id)  # nothing to change: no request at all
    await client.add_note(ticket.id, "<p>Mitigated by rollback</p>", private=True)
    await client.add_note(ticket.id, "<p>Resolved</p>", private=False)

    assert fd.updates(ticket.id) == [{"status": 4}, {"priority": 2, "status": 3}]
    assert len(fd.requests_to(f"/api/v2/tickets/{ticket.id}", "PUT")) == 2
    assert fd.ticket(ticket.id)["status"] == 3
    notes = fd.notes(ticket.id)
    assert [(n["body"], n["private"]) for n in notes] == [("<p>Mitigated by rollback</p>", True),
                                                          ("<p>Resolved</p>", False)]
    assert notes[0]["body_text"] == "Mitigated by rollback" and notes[0]["ticket_id"] == ticket.id


async def test_rate_limit_is_transient_and_carries_retry_after(fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    fd.fail_next(1, 429, retry_after=34)

    with pytest.raises(TransientDeliveryError) as caught:
        await client.create_ticket(ticket_request())

    assert caught.value.retry_after == 34 and caught.value.status == 429
    assert fd.tickets == []
    with pytest.raises(TransientDeliveryError) as held:  # asked to wait: no call until then
        await client.create_ticket(ticket_request())
    assert held.value.status == 429 and 33 < (held.value.retry_after or 0) <= 34
    assert len(fd.requests) == 1 and fd.tickets == []


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(fd: FakeFreshdesk, client: FreshdeskClient, status: int) -> None:
    fd.fail_next(1, status, path_contains="/notes")
    ticket = await client.create_ticket(ticket_request())
    with pytest.raises(TransientDeliveryError):
        await client.add_note(ticket.id, "<p>x</p>", private=True)


async def test_timeouts_and_refused_connections_are_transient(fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    fd.delay_next(1, 2.0)
    with pytest.raises(TransientDeliveryError, match="did not answer within 0.5s"):
        await client.create_ticket(ticket_request())

    gone = FakeFreshdesk(API_KEY)
    await gone.start()
    await gone.stop()  # its port is now closed: the connection is refused
    async with FreshdeskClient(settings(gone.url)) as unreachable:
        with pytest.raises(TransientDeliveryError, match="could not be reached"):
            await unreachable.update_ticket(1, status=4)


async def test_validation_failure_is_permanent_and_lists_each_field() -> None:
    async with FakeFreshdesk(API_KEY, required_custom_fields=("cf_impact",)) as fd:
        async with FreshdeskClient(settings(fd.url)) as client:
            with pytest.raises(PermanentDeliveryError) as caught:
                await client.create_ticket(ticket_request(priority=9, requester_email="not-an-email"))

    message = str(caught.value)
    assert caught.value.status == 400
    assert "cf_impact: It should be a/an String (missing_field)" in message
    assert "priority: It should be one of these values: '1,2,3,4' (invalid_value)" in message
    assert "email: It should be in the 'valid email address' format" in message


async def test_documented_validation_body_is_read(fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    documented = json.loads((DATA / "validation_error.json").read_text())
    fd.fail_next(1, 400, body=documented)

    with pytest.raises(PermanentDeliveryError, match=r"Validation failed: name: Mandatory attribute missing "
                                                     r"\(missing_field\)"):
        await client.create_ticket(ticket_request())


async def test_wrong_api_key_is_permanent_and_never_shown(fd: FakeFreshdesk,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-key-123"
    async with FreshdeskClient(settings(fd.url, wrong)) as client:
        with pytest.raises(PermanentDeliveryError) as caught:
            await client.create_ticket(ticket_request())

    assert caught.value.status == 401
    assert "FRESHDESK_API_KEY" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in caplog.text


async def test_forbidden_and_missing_tickets_are_permanent(fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    with pytest.raises(PermanentDeliveryError, match="404") as caught:
        await client.add_note(404040, "<p>x</p>", private=True)
    assert caught.value.status == 404

    fd.fail_next(1, 403, body={"code": "access_denied", "message": "You are not authorized to perform this action."})
    with pytest.raises(PermanentDeliveryError, match="no access.*access_denied"):
        await client.update_ticket(1, status=4)


async def test_check_reads_one_ticket_and_reports_the_budget(fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    sentence = await client.check()

    assert sentence.startswith(f"Freshdesk at {fd.url} accepts the API key")
    assert "of 700 API calls left this minute" in sentence
    assert fd.requests[-1].query == {"per_page": "1"}


def test_settings_normalise_the_url_and_say_what_is_missing() -> None:
    empty = settings("", "")
    assert not empty.configured
    assert [p.split(" ")[0] for p in empty.missing()] == ["FRESHDESK_URL", "FRESHDESK_API_KEY"]

    pasted = settings("contoso.freshdesk.com/api/v2/")
    assert pasted.url == "https://contoso.freshdesk.com" and pasted.configured
    assert pasted.ticket_url(7) == "https://contoso.freshdesk.com/a/tickets/7"

    assert "plain http" in settings("http://contoso.freshdesk.com").missing()[0]
    assert settings("http://127.0.0.1:8080").configured


def test_unconfigured_freshdesk_is_reported_not_built() -> None:
    client, reason = build_ticketing(settings("", ""))
    assert client is None and reason.startswith("Freshdesk not configured: FRESHDESK_URL")
    with pytest.raises(NotConfigured):
        FreshdeskClient(settings("", ""))


@pytest.mark.parametrize(("beacon", "freshdesk"), [("P1", 4), ("P2", 3), ("p3", 2), ("P4", 1), ("P5", 1),
                                                   ("2", 3), ("Sev-custom", 2)])
def test_beacon_priorities_map_to_freshdesk(beacon: str, freshdesk: int) -> None:
    assert freshdesk_priority(beacon) == freshdesk
    assert freshdesk_priority("unknown", default=FreshdeskPriority.LOW) == 1


async def test_a_reply_is_public_to_the_requester_and_found_again_by_its_reference(
        fd: FakeFreshdesk, client: FreshdeskClient) -> None:
    ticket = await client.create_ticket(ticket_request(requester_email="dana@contoso.example"))
    await client.add_note(ticket.id, "<p>Reference: INC-7-U3 (internal)</p>", private=True)
    await client.reply(ticket.id, "<p>Reference: INC-7-U31</p>")
    assert not await client.has_reply(ticket.id, "INC-7-U3")  # a private note is no reply

    await client.reply(ticket.id, "<p>We are on it.</p><p>Reference: INC-7-U3</p>")

    reply = fd.replies(ticket.id)[-1]
    assert fd.requests_to(f"/tickets/{ticket.id}/reply", "POST")[-1].json == {
        "body": "<p>We are on it.</p><p>Reference: INC-7-U3</p>"}
    assert (reply["private"], reply["incoming"], reply["to_emails"]) == (False, False, ["dana@contoso.example"])
    assert await client.has_reply(ticket.id, "INC-7-U3")
    assert not await client.has_reply(ticket.id, "INC-7-U4")
    with pytest.raises(PermanentDeliveryError, match="body"):
        await client.reply(ticket.id, "  ")
    with pytest.raises(PermanentDeliveryError, match="404"):
        await client.reply(999, "<p>x</p>")
