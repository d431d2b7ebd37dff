"""The playground in a real browser: Debian's Chromium driven by Playwright (no browser download).

Skips, saying why, when Chromium, Playwright or the npm renderer (`npm ci --prefix bot/playground`)
is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from app import Overrides
from bot.playground import INSTALL_STEP, renderer_installed
from services.config import parse_config
from tests.e2e.conftest import E2E_CONFIG, fast_settings, unconfigured
from tests.harness import BeaconServer

CHROMIUM = os.environ.get("BEACON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def browser_missing() -> str | None:
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements.txt)"
    if not renderer_installed():
        return f"the Adaptive Cards renderer is not installed ({INSTALL_STEP})"
    return None


async def start_beacon(tmp_path: Any, **settings: Any) -> BeaconServer:
    beacon = BeaconServer(fast_settings(f"sqlite+aiosqlite:///{tmp_path}/playground.db", **settings),
                          Overrides(config=parse_config(E2E_CONFIG), outside=unconfigured()))
    return await beacon.start()


@pytest_asyncio.fixture
async def beacon(tmp_path: Any) -> AsyncIterator[BeaconServer]:
    server = await start_beacon(tmp_path)
    yield server
    await server.stop()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_the_playground_is_served_only_without_an_app_id(beacon: BeaconServer, tmp_path: Any) -> None:
    status, page = await get(beacon.url + "/playground")
    assert status == 200 and "Beacon playground" in page
    registered = await start_beacon(tmp_path / "..", app_id="11111111-2222-3333-4444-555555555555",
                                    app_password="secret")
    try:
        assert (await get(registered.url + "/playground"))[0] == 404
        assert (await get(registered.url + "/playground/feed"))[0] == 404
    finally:
        await registered.stop()


async def test_the_playground_connector_records_what_beacon_posts(beacon: BeaconServer) -> None:
    from tests.teams_activities import channel_message

    service_url = beacon.url + "/playground/connector/"
    status, _ = await beacon.activity(channel_message("help", service_url=service_url))
    assert status in (200, 201)
    _, body = await get(beacon.url + "/playground/feed?since=0")
    assert '"messages"' in body and "declare" in body.lower()


async def test_declare_change_status_and_resolve_in_a_real_browser(beacon: BeaconServer) -> None:
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(beacon.url + "/playground")
            await page.fill("#say", "@Beacon declare Payments API down")
            await page.click("#compose button[type=submit]")
            form = page.locator("article.message", has=page.locator("input, select")).first
            await expect(form).to_be_visible(timeout=10_000)
            await fill_declare_form(page, form)
            incident = page.locator("article.message", has_text="INC-1",
                                    has=page.get_by_role("button", name="Change status")).first
            await expect(incident).to_be_visible(timeout=10_000)
            await change_status(page, incident)
            await expect(incident).to_contain_text("Status: Investigating", timeout=10_000)
            root = page.locator(f'article.message[data-id="{await incident.get_attribute("data-id")}"]')
            await expect(root).to_contain_text("Edited", timeout=10_000)  # Beacon's in-place update came
            await resolve(root)
            await expect(root).to_contain_text("Status: Resolved", timeout=10_000)
            await expect(root).to_contain_text("Rolled back the release")
            assert not errors, errors
        finally:
            await browser.close()


async def fill_declare_form(page: Any, form: Any) -> None:
    await form.locator("input").first.fill("Payments API down")
    await form.get_by_role("button", name="Declare incident").click()


async def change_status(page: Any, incident: Any) -> None:
    """Open "Change status" (an Action.ShowCard), pick Investigating, press the button under it."""
    await incident.get_by_role("button", name="Change status").click()
    choice = incident.locator("select:visible").first
    await choice.select_option("investigating")
    await choice.locator("xpath=following::button[1]").click()


async def resolve(incident: Any) -> None:
    """Open "Resolve", say what fixed it, press "Resolve incident"."""
    await incident.get_by_role("button", name="Resolve", exact=True).click()
    summary = incident.locator("textarea").last  # the Resolve form is the last action
    await summary.fill("Rolled back the release")
    await incident.get_by_role("button", name="Resolve incident").click()
