"""Outside text stays text in Teams: a title, an alert summary and a note that carry Markdown links
arrive on the incident card and in the thread without a live link (issue: untrusted text is inert)."""

from __future__ import annotations

from tests.cardtext import live_hostile_markdown, markdown_texts, unescape
from tests.e2e.helpers import act, declare, incident_root, settled
from tests.teams_activities import installation_update

PHISH = "Checkout down [sign in here](https://evil.example/login)"


def live_links(texts: list[str]) -> list[str]:
    return [t for t in texts if live_hostile_markdown(t)]


async def test_a_title_and_a_note_with_a_markdown_link_show_as_typed(stack):
    _, root = await declare(stack, PHISH)
    await act(stack, root, "incident.note", note="Try **this** [fix](https://evil.example/fix)")
    await settled(stack)
    texts = markdown_texts(root.cards[0])
    assert any(PHISH in unescape(t) for t in texts)  # the reader sees what was typed…
    assert live_links(texts) == []  # …and no link
    notes = [m.activity for m in stack.teams.thread(root.id) if m.text and "evil.example/fix" in m.text]
    assert notes and all(n.get("textFormat") == "plain" for n in notes)


async def test_an_alert_summary_with_a_markdown_link_is_inert_on_the_card(database_url):
    from tests.e2e.test_alerts import intake, load, post

    async with intake(database_url) as (stack, _):
        await stack.send(installation_update(service_url=stack.url))
        body = load("alertmanager_v4_one_alert_firing")
        body["alerts"][0]["annotations"]["summary"] = PHISH
        status, _ = await post(stack, "alertmanager", body)
        assert status == 200
        root = await incident_root(stack, 1)
        texts = markdown_texts(root.cards[0])
        assert any("sign in here" in t for t in texts) and live_links(texts) == []
