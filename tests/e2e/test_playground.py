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
                                    app_password="secret", app_tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47")
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
                                    has=page.get_by_role("button", name="More…")).first
            await expect(incident).to_be_visible(timeout=10_000)
            await change_status(page, incident)
            await expect(incident).to_contain_text("INC-1 · Investigating", timeout=10_000)
            root = page.locator(f'article.message[data-id="{await incident.get_attribute("data-id")}"]')
            await expect(root).to_contain_text("Edited", timeout=10_000)  # Beacon's in-place update came
            await resolve(page, root)
            await expect(root).to_contain_text("INC-1 · Resolved", timeout=10_000)
            await expect(root).to_contain_text("Rolled back the release")
            assert not errors, errors
        finally:
            await browser.close()


async def fill_declare_form(page: Any, form: Any) -> None:
    await form.locator("input").first.fill("Payments API down")
    await form.get_by_role("button", name="Declare incident").click()


async def change_status(page: Any, incident: Any) -> None:
    """Open "More…", then "Change status": its dialog opens; pick Investigating and press its button."""
    from playwright.async_api import expect

    await incident.get_by_role("button", name="More…").click()
    await incident.get_by_role("button", name="Change status").click()
    dialog = page.locator("#dialog")
    await expect(dialog).to_be_visible(timeout=10_000)
    await dialog.locator("select").first.select_option("investigating")
    await dialog.get_by_role("button", name="Change status").click()
    await expect(dialog).to_be_hidden(timeout=10_000)  # applied: the dialog closed


async def resolve(page: Any, incident: Any) -> None:
    """Open "More…" and "Resolve": in its dialog, say what fixed it and press "Resolve incident"."""
    from playwright.async_api import expect

    await incident.get_by_role("button", name="More…").click()
    await incident.get_by_role("button", name="Resolve", exact=True).click()
    dialog = page.locator("#dialog")
    await expect(dialog).to_be_visible(timeout=10_000)
    await dialog.locator("textarea").first.fill("Rolled back the release")
    await dialog.get_by_role("button", name="Resolve incident").click()
    await expect(dialog).to_be_hidden(timeout=10_000)


SCREENSHOTS = os.environ.get("BEACON_SCREENSHOTS", "")  # a folder to keep the PNGs in, to look at them


async def redrawn_meanwhile(page: Any, step: Any) -> Any:
    """Run a step on the card again when Beacon redrew the card meanwhile (its update, or Teams'
    refresh for this user, arrived while the step ran)."""
    from playwright.async_api import Error

    for attempt in range(8):
        try:
            return await step()
        except Error as error:
            if "not attached" not in str(error) or attempt == 7:
                raise
            await page.wait_for_timeout(300)


async def primary_is_visible(page: Any, card: Any, name: str, width: int) -> None:
    await redrawn_meanwhile(page, lambda: _measure(page, card, name, width))


async def _measure(page: Any, card: Any, name: str, width: int) -> None:
    """Inside the viewport, not clipped by the card or the page, and no sideways scrolling."""
    from playwright.async_api import Error, expect

    button = card.get_by_role("button", name=name, exact=True).first
    await expect(button).to_be_visible(timeout=10_000)
    await button.scroll_into_view_if_needed()
    box = await button.bounding_box()
    if box is None:  # the card was redrawn between the two calls: the button we saw is gone
        raise Error("button not attached: the card was redrawn")
    assert 0 <= box["x"] and box["x"] + box["width"] <= width, (name, box, width)
    assert box["width"] >= 60 and box["height"] >= 20, box  # a button, not a sliver
    clipped = await button.evaluate("""b => {
        const r = b.getBoundingClientRect();
        for (let e = b.parentElement; e; e = e.parentElement) {
            const p = e.getBoundingClientRect(), s = getComputedStyle(e);
            if (s.overflow !== 'visible' && (r.left < p.left - 1 || r.right > p.right + 1)) return true;
        }
        return b.scrollWidth > b.clientWidth + 1;  // the title itself cut short
    }""")
    assert not clipped, f"{name} is clipped at {width} px"
    assert await page.evaluate("document.documentElement.scrollWidth") <= width


async def test_the_card_at_desktop_and_phone_width_shows_its_primary_action(beacon: BeaconServer,
                                                                           tmp_path: Any) -> None:
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.async_api import async_playwright, expect

    folder = SCREENSHOTS or str(tmp_path)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await page.goto(beacon.url + "/playground")
            await page.fill("#say", "@Beacon declare Payments API down")
            await page.click("#compose button[type=submit]")
            form = page.locator("article.message", has=page.locator("input, select")).first
            await expect(form).to_be_visible(timeout=10_000)
            await fill_declare_form(page, form)
            card = page.locator("article.message.reply, article.message", has_text="INC-1",
                                has=page.get_by_role("button", name="More…")).last
            for step, primary in (("declared", "Acknowledge"), ("acknowledged", "Take command"),
                                  ("commanded", "Post update")):
                for width in (1400, 390):
                    await page.set_viewport_size({"width": width, "height": 844 if width == 390 else 900})
                    await primary_is_visible(page, card, primary, width)
                    path = f"{folder}/incident-card-{step}-{width}.png"
                    await redrawn_meanwhile(page, lambda path=path: card.screenshot(path=path))
                if primary == "Post update":  # what is under More…, at phone width, to look at
                    await beacon.settle()
                    await page.wait_for_timeout(1500)  # the page's poll and the refresh for its user
                    await card.get_by_role("button", name="More…").click()
                    await card.get_by_role("button", name="Details").click()
                    await card.screenshot(path=f"{folder}/incident-card-more-390.png")
                    # no form on the card itself, "More…" open or not: every form is a dialog
                    assert not await card.locator("input, select, textarea").count()
                    assert not await card.get_by_role("button", name="Take command").count()
                else:
                    await card.get_by_role("button", name=primary, exact=True).click()
                    await beacon.settle()
                    await expect(card.get_by_role("button", name=primary, exact=True)).to_have_count(
                        0, timeout=10_000)
        finally:
            await browser.close()
