"""What README shows, drawn by Chromium from what Beacon really sends: the stakeholders' post in
their channel, the confirmation its poster alone sees, and the post-incident report.

Set BEACON_SCREENSHOTS=docs/screenshots to write them where README links them; otherwise they go to
a temporary folder and the test checks only that a stakeholder can read them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest

from services.clock import FakeClock
from services.config import parse_config
from tests.e2e.helpers import act, card_text, declare, settled
from tests.e2e.test_playground import CHROMIUM, CHROMIUM_FLAGS, browser_missing
from tests.e2e.test_review import START, _link, _stack_with, _submit, review_config, thread_cards
from tests.teams_activities import Users

pytestmark = pytest.mark.slow

STAKEHOLDER_CHANNEL = "19:stakeholders@thread.tacv2"
UPDATE = ("Card payments fail for about a third of Contoso's shoppers. We found a faulty configuration "
          "change and are rolling it back; payments should recover within the hour.")
MAX_BYTES = 200_000


def readme_config() -> Any:
    data = review_config().model_dump(mode="json", exclude_unset=True)
    data["channels"] = {"stakeholder_channel": STAKEHOLDER_CHANNEL}
    data["directory"]["clients"] = [{"name": "Contoso", "account_owner": {"name": "Avery Owner",
                                                                          "email": "avery@example.com"},
                                     "contacts": [{"name": "Casey", "email": "casey@contoso.example"}]}]
    return parse_config(data)


async def _story(stack: Any, clock: FakeClock) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A P1 for a client, from declaration to report: the stakeholders' post, the confirmation its
    poster saw, and the report's signed link."""
    _, root = await declare(stack, "Card payments failing", client="Contoso", impact_time="08:40")
    steps: list[tuple[int, str, dict[str, str]]] = [
        (3, "incident.ack", {}), (2, "incident.take_command", {}),
        (0, "incident.assign", {"responders": Users.BOB.aad_object_id}),
        (10, "incident.status", {"status": "investigating"})]
    for minutes, verb, data in steps:
        clock.advance(timedelta(minutes=minutes))
        await settled(stack)
        await act(stack, root, verb, **data)
    clock.advance(timedelta(minutes=10))
    await settled(stack)
    confirmation = await act(stack, root, "incident.post_update", audience="stakeholders", update=UPDATE)
    await settled(stack)
    [post] = [m for m in stack.teams.messages() if m.cards and "Stakeholder update 1" in card_text(m.cards[0])]
    for minutes, verb, data in ((20, "incident.status", {"status": "monitoring"}),
                                (30, "incident.resolve", {"summary": "Rolled back the configuration change"})):
        clock.advance(timedelta(minutes=minutes))
        await settled(stack)
        await act(stack, root, verb, **data)
    await settled(stack)
    await _submit(stack, root)
    await settled(stack)
    return post.cards[0], confirmation, _link(thread_cards(stack, root.id))


async def _draw(page: Any, card: dict[str, Any], path: str) -> None:
    """The card as the playground's Adaptive Cards renderer draws it, alone on the page."""
    await page.evaluate("""card => {
        document.getElementById('channel').replaceChildren();
        const article = document.createElement('article');
        article.className = 'message';
        article.id = 'shot';
        article.append(renderCard(card, () => {}));
        document.getElementById('channel').append(article);
    }""", card)
    await page.locator("#shot").screenshot(path=path)


async def test_readme_shows_a_stakeholder_update_its_confirmation_and_the_report(database_url, tmp_path):
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    folder = os.environ.get("BEACON_SCREENSHOTS") or str(tmp_path)
    clock = FakeClock(START)
    stack, graph = await _stack_with(database_url, clock, readme_config())
    try:
        post, confirmation, link = await _story(stack, clock)
        shown = card_text(post)
        assert "Responders" not in shown and "Posted by a responder" not in shown
        assert "Who to contact:** Avery Owner (avery@example.com), Account Owner of Contoso" in shown
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
            try:
                context = await browser.new_context(viewport={"width": 760, "height": 900}, timezone_id="UTC",
                                                    locale="en-GB")
                page = await context.new_page()
                await page.goto(stack.beacon.url + "/playground")
                await _draw(page, post, f"{folder}/stakeholder-update.png")
                await _draw(page, confirmation, f"{folder}/update-confirmation.png")
                await page.set_viewport_size({"width": 900, "height": 1300})
                await page.goto(stack.beacon.url + link)
                await page.screenshot(path=f"{folder}/report.png")
            finally:
                await browser.close()
        for name in ("stakeholder-update", "update-confirmation", "report"):
            assert 0 < os.path.getsize(f"{folder}/{name}.png") < MAX_BYTES, name
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
        await graph.stop()
