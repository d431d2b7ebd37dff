"""A client's status page, tried as a client would: the account owner asks Beacon for the link in
Teams and shares it; the page shows the client's incidents with the stakeholder updates only; a
tampered, expired, revoked or other client's link shows nothing of it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
import pytest_asyncio

from services.clock import FakeClock
from services.config import parse_config
from services.status_page.links import StatusLinks
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack
from tests.e2e.helpers import act, declare, settled
from tests.e2e.test_playground import CHROMIUM, CHROMIUM_FLAGS
from tests.teams_activities import CHANNEL_ID, Person, Users, channel_message, installation_update

SECRET = "status-link-secret-for-tests"
CANARY = "CANARY-5521 internal: db primary fenced by hand"
UPDATE = "Card payments fail for some customers. We are switching to our backup payment provider."
OTHER = "FABRIKAM-ONLY invoices are delayed by an hour."
ATOM = "{http://www.w3.org/2005/Atom}"
OWNER = Users.CAROL  # Contoso's account owner
CLIENTS = [{"name": "Contoso", "aliases": ["Contoso Ltd"],
            "account_owner": {"name": "Carol Jones", "email": "carol@example.com",
                              "aad_object_id": OWNER.aad_object_id}},
           {"name": "Fabrikam"}]


@pytest_asyncio.fixture
async def stack(database_url: str) -> Any:
    config = parse_config({**E2E_CONFIG, "directory": {**E2E_CONFIG["directory"], "clients": CLIENTS},
                           "roles": {"incident_admins": [Users.DAN.aad_object_id]},
                           "channels": {"incidents_channel": CHANNEL_ID}})
    started = await start_stack(database_url, config, status_link_secret=SECRET)
    await started.send(installation_update(service_url=started.url))
    yield started
    await started.beacon.stop()
    await started.teams.stop()


async def ask(stack: Stack, text: str, person: Person) -> str:
    message = channel_message(text, service_url=stack.url, from_user=person)
    await stack.send(message)
    answer = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == message["id"]),
                                                       None), timeout=20)
    return str(answer.text)


def link_in(answer: str) -> str:
    url = next(word for word in answer.split() if "/status/" in word).rstrip(".,")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def feed_of(link: str) -> str:
    path, _, query = link.partition("?")
    return f"{path}/feed?{query}"


async def feed(stack: Stack, link: str) -> list[tuple[str, str]]:
    """The page's Atom feed, checked for what RFC 4287 requires: (title, text) of each entry."""
    status, body = await stack.beacon.get_text(feed_of(link))
    assert status == 200, body
    root = ElementTree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for element in (root, *root.iter(f"{ATOM}entry")):
        assert all(element.find(f"{ATOM}{name}") is not None for name in ("id", "title", "updated")), body
    assert "CANARY-5521" not in body and "FABRIKAM" not in body
    return [(str(e.findtext(f"{ATOM}title")), str(e.findtext(f"{ATOM}content"))) for e in root.iter(f"{ATOM}entry")]


def browser_missing() -> str | None:
    if not os.path.isfile(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements.txt)"
    return None


class Outline(HTMLParser):
    """The page's headings and language, as a screen reader would list them."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.lang = ""
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""
        if tag in ("h1", "h2", "h3"):
            self._open = tag
            self.headings.append((tag, ""))

    def handle_data(self, data: str) -> None:
        if self._open:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None


async def test_the_account_owner_shares_a_page_that_shows_stakeholder_updates_only(stack: Stack) -> None:
    _, contoso = await declare(stack, "Payments API down", client="Contoso")
    await act(stack, contoso, "incident.note", note=CANARY)
    await act(stack, contoso, "incident.post_update", audience="responders", update=CANARY)
    await act(stack, contoso, "incident.post_update", audience="stakeholders", update=UPDATE)
    _, fabrikam = await declare(stack, "Invoices delayed", client="Fabrikam", service="web-portal",
                                impact="low", urgency="low")
    await act(stack, fabrikam, "incident.post_update", audience="stakeholders", update=OTHER)
    await settled(stack)

    refused = await ask(stack, "status Contoso", Users.BOB)
    assert "Only Contoso's account owner (Carol Jones) or an incident admin" in refused and "/status/" not in refused
    answer = await ask(stack, "status contoso ltd", OWNER)
    assert "Contoso's status page, valid until" in answer
    link = link_in(answer)

    status, page = await stack.beacon.get_text(link)
    assert status == 200
    outline = Outline()
    outline.feed(page)
    assert outline.lang == "en"
    assert outline.headings == [("h1", "Service status for Contoso"), ("h2", "Current incidents"),
                                ("h3", "Payments API down"), ("h2", "Past 30 days"), ("h2", "Email me updates")]
    assert UPDATE in page and "Investigating" in page and "Reference INC-1" in page
    assert 'name="viewport"' in page and "<script" not in page
    for hidden in ("CANARY-5521", "Alice", "Bob", "Invoices delayed", "FABRIKAM-ONLY"):
        assert hidden not in page, hidden
    assert 'http-equiv="refresh"' not in page
    status, refreshing = await stack.beacon.get_text(link + "&refresh=1")
    assert status == 200 and 'http-equiv="refresh" content="60"' in refreshing
    assert 'type="application/atom+xml"' in page
    entries = await feed(stack, link)
    assert entries == [("Payments API down: update", UPDATE)]

    # Another client's link shows that client's incidents only, and never opens Contoso's page.
    other = link_in(await ask(stack, "status Fabrikam", Users.DAN))
    status, fabrikam_page = await stack.beacon.get_text(other)
    assert status == 200 and OTHER in fabrikam_page and "Payments API down" not in fabrikam_page
    status, _ = await stack.beacon.get_text(other.replace("/status/Fabrikam", "/status/Contoso"))
    assert status == 403

    # Tampered and expired links get 403 and show nothing.
    sig = link.split("sig=")[1][:64]
    tampered = link.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])
    expired = StatusLinks(SECRET, "", timedelta(days=-1)).url("Contoso", 1, datetime.now(UTC))
    for bad in (tampered, expired, link.split("&sig=")[0], "/status/Contoso", feed_of(tampered)):
        status, body = await stack.beacon.get_text(bad)
        assert status == 403 and "Payments API down" not in body, bad
    session = stack.beacon._session  # a browser is told so in a page, kept out of caches and indexes
    assert session is not None
    async with session.get(stack.beacon.url + tampered, headers={"Accept": "text/html"}) as response:
        assert response.status == 403 and "This link does not work" in await response.text()
        assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Robots-Tag"] == "noindex"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]

    # Revoking: every link handed out so far stops working; the new one works.
    renewed = await ask(stack, "status Contoso revoke", OWNER)
    assert "Every earlier status link for Contoso stops working now" in renewed
    status, _ = await stack.beacon.get_text(link)
    assert status == 403
    new_link = link_in(renewed)
    status, page = await stack.beacon.get_text(new_link)
    assert status == 200 and UPDATE in page

    await act(stack, contoso, "incident.resolve", summary="Switched to the backup payment provider")
    await settled(stack)
    status, page = await stack.beacon.get_text(new_link)
    outline = Outline()
    outline.feed(page)
    assert [h for h in outline.headings if h[0] == "h3"] == [("h3", "Payments API down")]
    assert "No current incidents" in page and "Resolved" in page
    assert "What fixed it: Switched to the backup payment provider" in page
    assert [title for title, _ in await feed(stack, new_link)] == ["Payments API down: resolved",
                                                                   "Payments API down: update"]


LONG_WORD = "https://status.example.com/" + "x" * 120  # an unbroken line must not widen a phone's page


async def test_the_page_reads_well_in_chromium_on_a_desktop_and_a_phone(stack: Stack) -> None:
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    _, contoso = await declare(stack, "Payments API down", client="Contoso")
    await act(stack, contoso, "incident.note", note=CANARY)
    await act(stack, contoso, "incident.post_update", audience="stakeholders", update=f"{UPDATE} See {LONG_WORD}")
    await settled(stack)
    link = link_in(await ask(stack, "status Contoso", OWNER))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            for width in (1400, 390):
                context = await browser.new_context(viewport={"width": width, "height": 900})
                page = await context.new_page()
                answer = await page.goto(stack.beacon.url + link)
                assert answer is not None and answer.status == 200
                shown = await page.inner_text("body")
                assert UPDATE in shown and "Payments API down" in shown and "CANARY-5521" not in shown
                assert await page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
                size = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
                assert size >= 16
                headings = await page.evaluate(
                    "[...document.querySelectorAll('h1,h2,h3')].map(h => h.tagName + ' ' + h.innerText)")
                assert headings[:3] == ["H1 Service status for Contoso", "H2 Current incidents",
                                        "H3 Payments API down"]
                await context.close()
        finally:
            await browser.close()


async def test_the_public_page_is_off_unless_configured_and_names_no_client(database_url: str,
                                                                             stack: Stack) -> None:
    status, _ = await stack.beacon.get_text("/status")
    assert status == 404  # status.public is off by default

    config = parse_config({**E2E_CONFIG, "directory": {**E2E_CONFIG["directory"], "clients": CLIENTS},
                           "channels": {"incidents_channel": CHANNEL_ID}, "status": {"public": True}})
    public = await start_stack(database_url.replace("beacon.db", "public.db") if "sqlite" in database_url
                               else database_url, config, status_link_secret=SECRET)
    try:
        await public.send(installation_update(service_url=public.url))
        _, root = await declare(public, "Contoso checkout down", client="Contoso")
        await act(public, root, "incident.note", note=CANARY)
        await act(public, root, "incident.post_update", audience="stakeholders",
                  update="Checkout fails for contoso ltd users; a fix is rolling out.")
        await settled(public)
        status, page = await public.beacon.get_text("/status")
        assert status == 200
        assert "a client checkout down" in page and "Checkout fails for a client users" in page
        assert "contoso" not in page.lower() and "CANARY-5521" not in page
    finally:
        await public.beacon.stop()
        await public.teams.stop()


async def test_an_incident_stays_on_the_page_for_30_days_after_it_ends(database_url: str) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    config = parse_config({**E2E_CONFIG, "directory": {**E2E_CONFIG["directory"], "clients": CLIENTS},
                           "roles": {"incident_admins": [Users.DAN.aad_object_id]},
                           "channels": {"incidents_channel": CHANNEL_ID}})
    dated = await start_stack(database_url, config, clock=clock, status_link_secret=SECRET)
    try:
        await dated.send(installation_update(service_url=dated.url))
        _, root = await declare(dated, "Payments API down", client="Contoso")
        clock.advance(timedelta(minutes=45))
        await act(dated, root, "incident.resolve", summary="Switched to the backup payment provider")
        await settled(dated)
        link = link_in(await ask(dated, "status Contoso", OWNER))
        clock.advance(timedelta(days=29, hours=23))
        status, page = await dated.beacon.get_text(link)
        assert status == 200 and "Payments API down" in page and "No incidents in the past 30 days" not in page
        assert "(45 min)" in page  # the impact window it had
        clock.advance(timedelta(hours=2))
        status, page = await dated.beacon.get_text(link)
        assert status == 200 and "Payments API down" not in page and "No incidents in the past 30 days" in page
    finally:
        await dated.beacon.stop()
        await dated.teams.stop()
