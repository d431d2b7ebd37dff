"""Email updates from a client's status page, tried as a client's employee would: type an address
into the page's form, get a confirmation email (through the fake Graph mailbox), follow it, then
get each stakeholder update and the resolution once, in the page's words, with a way to stop; a
bad address, a tampered link or an unsubscribe each do what the page says."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from bot.wiring import OutsideSettings
from services.config import parse_config
from services.graph import GraphSettings
from services.notify.sms.settings import SmsSettings
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack
from tests.e2e.helpers import act, declare, eventually, settled
from tests.e2e.test_playground import CHROMIUM, CHROMIUM_FLAGS
from tests.e2e.test_status_page import browser_missing, link_in
from tests.fakes.graph import FakeGraph
from tests.fakes.graph_mail import SentMail
from tests.teams_activities import CHANNEL_ID, Users, channel_message, installation_update

SECRET = "status-link-secret-for-tests"
CANARY = "CANARY-8842 internal: Bob restarted the primary by hand"
UPDATE = "Card payments fail for some customers. We are switching to our backup payment provider."
LATER = "Invoices are delayed; we are reprocessing them."
READER = "erin.reader@contoso-client.example"
STAYING = "finn.reader@contoso-client.example"  # subscribed all along: what the others no longer get, it does
CONTACT = "dana@contoso-client.example"
OWNER = Users.CAROL
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CLIENTS = [{"name": "Contoso", "account_owner": {"name": "Carol Jones", "email": "carol@example.com",
                                                 "aad_object_id": OWNER.aad_object_id},
            "contacts": [{"name": "Dana Client", "email": "dana@contoso-client.example"}]},
           {"name": "Fabrikam"}]


@pytest_asyncio.fixture
async def mailbox() -> Any:
    graph = await FakeGraph().start()
    yield graph
    await graph.stop()


async def start(database_url: str, mailbox: FakeGraph, **settings: Any) -> Stack:
    config = parse_config({**E2E_CONFIG, "directory": {**E2E_CONFIG["directory"], "clients": CLIENTS},
                           "channels": {"incidents_channel": CHANNEL_ID}})
    outside = OutsideSettings(graph=GraphSettings(base_url=mailbox.base_url, access_token="t",
                                                  mail_sender="noc@example.com"), sms=SmsSettings(provider=""))
    started = await start_stack(database_url, config, outside=outside, status_link_secret=SECRET,
                                public_url="https://beacon.example.com", **settings)
    await started.send(installation_update(service_url=started.url))
    return started


@pytest_asyncio.fixture
async def stack(database_url: str, mailbox: FakeGraph) -> Any:
    started = await start(database_url, mailbox)
    yield started
    await started.beacon.stop()
    await started.teams.stop()


async def page_link(stack: Stack) -> str:
    message = channel_message("status Contoso", service_url=stack.url, from_user=OWNER)
    await stack.send(message)
    answer = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == message["id"]),
                                                       None), timeout=20)
    return link_in(str(answer.text))


def path_of(url: str) -> str:
    parts = urlsplit(url.replace("&amp;", "&"))
    return f"{parts.path}?{parts.query}"


async def form_action(stack: Stack, link: str) -> str:
    status, page = await get(stack, link)
    assert status == 200
    found = re.search(r'<form method="post" action="([^"]+)">', page)
    assert found is not None and 'name="email"' in page and "Email me updates" in page
    return found.group(1).replace("&amp;", "&")


async def post_form(stack: Stack, path: str, data: dict[str, str] | str) -> tuple[int, str]:
    session = stack.beacon._session
    assert session is not None
    async with session.post(stack.beacon.url + path, data=data, headers={"Accept": BROWSER}) as response:
        return response.status, html.unescape(await response.text())


async def get(stack: Stack, path: str) -> tuple[int, str]:
    session = stack.beacon._session
    assert session is not None
    async with session.get(stack.beacon.url + path, headers={"Accept": BROWSER}) as response:
        return response.status, html.unescape(await response.text())


def to(mailbox: FakeGraph, address: str) -> list[SentMail]:
    return [m for m in mailbox.sent_mail() if address in m.to]


def to_reader(mailbox: FakeGraph) -> list[SentMail]:
    return to(mailbox, READER)


def updates(mails: list[SentMail], words: str = "") -> list[SentMail]:
    """The incident updates among `mails` (the clients' email: "[INC-1] Update 2 on a problem: …")."""
    return [m for m in mails if re.search(r"\] Update \d+ on a problem:", m.subject) and words in m.text]


def resolutions(mails: list[SentMail]) -> list[SentMail]:
    return [m for m in mails if "] The problem is resolved:" in m.subject]


def link_after(text: str, label: str) -> str:
    found = re.search(rf"{label}[^\n]*\n?(https://\S+)", text)
    assert found is not None, text
    return path_of(found.group(1))


def tampered(path: str) -> str:
    sig = path.split("sig=")[1][:64]
    return path.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])


async def subscribed(stack: Stack, mailbox: FakeGraph, address: str = READER, link: str = "") -> str:
    """Subscribe `address` through the page's form and its confirmation email; the page's link."""
    link = link or await page_link(stack)
    status, answer = await post_form(stack, await form_action(stack, link), {"email": address.upper()})
    assert status == 200 and "Check your inbox" in answer and address in answer
    await settled(stack)
    [confirmation] = to(mailbox, address)
    status, page = await get(stack, link_after(confirmation.text, "confirm within 48 hours:"))
    assert status == 200 and "Confirm" in page
    status, page = await post_form(stack, link_after(confirmation.text, "confirm within 48 hours:"), {})
    assert status == 200 and "You are subscribed" in page
    return link


async def test_a_reader_subscribes_confirms_gets_each_update_once_and_unsubscribes(stack: Stack,
                                                                                    mailbox: FakeGraph) -> None:
    _, first = await declare(stack, "Payments API down", client="Contoso")
    _, second = await declare(stack, "Invoices delayed", client="Contoso", service="web-portal",
                              impact="low", urgency="low")
    link = await subscribed(stack, mailbox, STAYING)
    action = await form_action(stack, link)

    status, page = await post_form(stack, action, {"email": "erin at contoso"})
    assert status == 400 and "is not an email address" in page and "nothing was saved" in page
    status, page = await post_form(stack, action, {"email": READER})
    assert status == 200 and "Check your inbox" in page
    status, page = await post_form(stack, action, {"email": f"  {READER.upper()} "})  # the same person again
    assert status == 200 and "Check your inbox" in page
    status, _ = await post_form(stack, tampered(action), {"email": READER})
    assert status == 403
    await settled(stack)
    [confirmation] = to_reader(mailbox)  # one confirmation, whatever the repeats
    assert "Confirm email updates about Contoso" in confirmation.subject
    assert "List-Unsubscribe" not in confirmation.headers  # nothing to unsubscribe from yet
    confirm = link_after(confirmation.text, "confirm within 48 hours:")

    # Nothing reaches an address before it confirms; a confirmed one gets the same update meanwhile.
    await act(stack, first, "incident.post_update", audience="stakeholders", update="First words, before confirming")
    await eventually(lambda: updates(to(mailbox, STAYING), "First words"), what="the update to a confirmed reader")
    await settled(stack)
    assert len(to_reader(mailbox)) == 1

    for bad in (tampered(confirm), confirm.replace("s=", "s=9")):
        status, page = await get(stack, bad)
        assert status == 403 and "invalid" in page
        status, _ = await post_form(stack, bad, {})
        assert status == 403
    status, page = await get(stack, confirm)  # a mail scanner opening the link confirms nothing
    assert status == 200 and f"Send updates about Contoso's incidents to {READER}?" in page
    status, page = await post_form(stack, confirm, {})
    assert status == 200 and "You are subscribed" in page

    await act(stack, first, "incident.note", note=CANARY)
    await act(stack, first, "incident.post_update", audience="responders", update=CANARY)
    await act(stack, first, "incident.post_update", audience="stakeholders", update=UPDATE)
    await settled(stack)
    await settled(stack)
    [update] = updates(to_reader(mailbox))  # this one only: not the one sent before it confirmed
    assert update.subject == "[INC-1] Update 2 on a problem: Payments API down"
    assert f"What is being done: {UPDATE}" in update.text and "What is affected: Payments API down" in update.text
    for hidden in ("CANARY-8842", "Alice", "Bob", "Invoices delayed", "First words"):
        assert hidden not in update.text + update.html, hidden
    # the same email the client's contacts get, with a way to stop
    [contacts] = updates(to(mailbox, CONTACT), UPDATE)
    assert contacts.subject == update.subject and contacts.text.split("Follow this")[0] in update.text and "Unsubscribe" not in contacts.text
    leave = link_after(update.text, "Unsubscribe:")
    assert update.headers["List-Unsubscribe"] == f"<https://beacon.example.com{leave}>"
    assert update.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<[0-9a-f]{40}\.beacon@example\.com>", update.headers["Message-ID"])  # one per outbox row
    status, shown = await get(stack, link_after(update.text, "status page:"))
    assert status == 200 and UPDATE in shown  # the email's page link works

    await act(stack, first, "incident.resolve", summary="Switched to the backup payment provider")
    await settled(stack)
    [resolved] = resolutions(to_reader(mailbox))
    assert "What fixed it: Switched to the backup payment provider" in resolved.text
    assert "The problem is resolved" in resolved.text and "Unsubscribe:" in resolved.text

    for bad in (tampered(leave), leave.replace("s=", "s=7")):
        status, page = await get(stack, bad)
        assert status == 403 and "invalid" in page
    status, page = await get(stack, leave)
    assert status == 200 and "Unsubscribe" in page
    status, page = await post_form(stack, leave, "List-Unsubscribe=One-Click")  # a mail client's one click
    assert status == 200 and "You are unsubscribed" in page
    before = len(to_reader(mailbox))
    await act(stack, second, "incident.post_update", audience="stakeholders", update=LATER)
    await eventually(lambda: updates(to(mailbox, STAYING), LATER), what="the later update to a subscribed reader")
    await settled(stack)
    assert len(to_reader(mailbox)) == before
    assert len(updates(to_reader(mailbox))) == 1


async def test_every_email_to_the_clients_people_links_their_status_page(stack: Stack, mailbox: FakeGraph) -> None:
    _, root = await declare(stack, "Payments API down", client="Contoso")
    await act(stack, root, "incident.post_update", audience="stakeholders", update=UPDATE)
    await act(stack, root, "incident.resolve", summary="Switched to the backup payment provider")
    await settled(stack)
    to_dana = [m for m in mailbox.sent_mail() if "dana@contoso-client.example" in m.to]
    assert [m.subject.split(":")[0] for m in to_dana] == [
        "[INC-1] We are working on a problem", "[INC-1] Update 1 on a problem", "[INC-1] The problem is resolved"]
    for mail in to_dana:
        assert "Follow this and every other incident affecting Contoso on your status page" in mail.text + mail.html
        status, page = await get(stack, link_after(mail.text, "on your status page:"))
        assert status == 200 and "Payments API down" in page and UPDATE in page, mail.subject
    # The team's own emails about the incident carry no client link.
    assert not [m for m in mailbox.sent_mail() if not set(m.to) & {"dana@contoso-client.example", "carol@example.com"}
                and "/status/" in m.text]


async def test_a_page_takes_so_many_subscriptions_and_sends_so_many_confirmations_an_hour(
        database_url: str, mailbox: FakeGraph) -> None:
    small = await start(database_url, mailbox, status_subscribers_per_client=2)
    try:
        action = await form_action(small, await page_link(small))
        addresses = [f"{name}@contoso-client.example" for name in ("ann", "ben", "cy", "dee", "eve", "fay")]
        answers = await asyncio.gather(*(post_form(small, action, {"email": a}) for a in addresses))  # all at once
        taken = [address for address, (status, _) in zip(addresses, answers) if status == 200]
        assert len(taken) == 2, answers
        for status, page in answers:
            assert status == 200 or (status == 409 and "as many email subscriptions as it takes (2)" in page
                                     and "nothing was saved" in page), (status, page)
        status, _ = await post_form(small, action, {"email": taken[0]})  # already in: no refusal
        assert status == 200
        for _ in range(20):  # the hourly limit, many submissions of one address: one row, one email
            status, _ = await post_form(small, action, {"email": taken[1]})
            assert status == 200
        status, _ = await post_form(small, action, {"email": "gus@contoso-client.example"})
        assert status == 409
        await settled(small)
        assert sorted(a for m in mailbox.sent_mail() for a in m.to) == sorted(taken)
    finally:
        await small.beacon.stop()
        await small.teams.stop()


async def test_a_page_sends_at_most_20_confirmations_an_hour(stack: Stack, mailbox: FakeGraph) -> None:
    action = await form_action(stack, await page_link(stack))
    for number in range(20):
        status, _ = await post_form(stack, action, {"email": f"reader{number}@contoso-client.example"})
        assert status == 200
    session = stack.beacon._session
    assert session is not None
    async with session.post(stack.beacon.url + action, data={"email": "one.more@contoso-client.example"},
                            headers={"Accept": BROWSER}) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "3600"
        assert "Try again in an hour" in html.unescape(await response.text())
    async with session.post(stack.beacon.url + action, data={"email": "json@contoso-client.example"}) as response:
        assert response.status == 429 and "error" in await response.json()  # a script gets JSON
    await settled(stack)
    assert len(mailbox.sent_mail()) == 20
    assert not [m for m in mailbox.sent_mail() if "one.more@contoso-client.example" in m.to]


async def test_a_revoked_link_ends_the_subscriptions_made_through_it(stack: Stack, mailbox: FakeGraph) -> None:
    _, root = await declare(stack, "Payments API down", client="Contoso")
    await subscribed(stack, mailbox)
    message = channel_message("status Contoso revoke", service_url=stack.url, from_user=OWNER)
    await stack.send(message)
    told = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == message["id"]),
                                                     None), timeout=20)
    assert "the email subscriptions made through them end" in str(told.text)
    await subscribed(stack, mailbox, STAYING, link_in(str(told.text)))  # through the new link
    before = len(to_reader(mailbox))
    await act(stack, root, "incident.post_update", audience="stakeholders", update=UPDATE)
    await eventually(lambda: updates(to(mailbox, STAYING), UPDATE), what="the update to the new link's subscriber")
    await settled(stack)
    assert len(to_reader(mailbox)) == before


async def test_the_form_and_the_emails_read_well_on_a_phone(stack: Stack, mailbox: FakeGraph) -> None:
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    _, root = await declare(stack, "Payments API down", client="Contoso")
    link = await page_link(stack)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            await page.goto(stack.beacon.url + link)
            await page.get_by_label("Your email address").fill(READER)
            await page.get_by_role("button", name="Email me updates").click()
            await page.wait_for_load_state()
            assert "Check your inbox" in await page.inner_text("h1")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await settled(stack)
            [confirmation] = to_reader(mailbox)
            await page.goto(stack.beacon.url + link_after(confirmation.text, "confirm within 48 hours:"))
            await page.get_by_role("button", name="Confirm").click()
            await page.wait_for_load_state()
            assert "You are subscribed" in await page.inner_text("h1")

            await act(stack, root, "incident.note", note=CANARY)
            await act(stack, root, "incident.post_update", audience="stakeholders", update=UPDATE)
            await settled(stack)
            [update] = updates(to_reader(mailbox))
            for mail in (confirmation, update):
                await page.set_content(mail.html)
                shown = await page.inner_text("body")
                assert "CANARY-8842" not in shown
                assert await page.evaluate("document.documentElement.scrollWidth") <= 390
                size = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('p')).fontSize)")
                assert size >= 16
            assert UPDATE in shown and "Unsubscribe" in shown and "Contoso on your status page" in shown
            await context.close()
        finally:
            await browser.close()
