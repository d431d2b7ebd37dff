"""The incident thread as responders read it in Teams: names, never Entra ids; each note with its
author, sent as plain text; and nothing said twice."""

from __future__ import annotations

from tests.e2e.helpers import act, card_text, declare, settled
from tests.teams_activities import Users


def thread_texts(stack, root) -> list[str]:  # type: ignore[no-untyped-def]
    """Every reply in the thread as a reader sees it: a line's text, or a card's."""
    return [m.text or "" if not m.cards else card_text(m.cards[0]) for m in stack.teams.thread(root.id)]


async def test_people_picked_by_id_are_named_in_the_thread_and_the_timeline(stack):
    _, root = await declare(stack, "Payments API down")
    await act(stack, root, "incident.ack", from_user=Users.BOB)  # Beacon meets Bob
    await act(stack, root, "incident.assign", responders=f"{Users.BOB.aad_object_id},aad-nobody-knows")
    await settled(stack)
    # One line per change (notes queued behind one another share a reply).
    lines = [line for m in stack.teams.thread(root.id) if m.text for line in m.text.splitlines()]
    assert any(line == "Alice Carter assigned Bob Singh, 1 person(s) Beacon has not met yet" for line in lines), lines
    async with stack.beacon.deps.uow() as uow:
        summaries = [e.summary for e in await uow.timeline.of(1)]
    everything = "\n".join(lines + summaries)
    assert Users.BOB.aad_object_id not in everything and "aad-nobody-knows" not in everything


async def test_a_note_says_whose_it_is_and_goes_as_plain_text(stack):
    _, root = await declare(stack, "Payments API down")
    await act(stack, root, "incident.note", note="Rolling back *release* 4.2, see [runbook](https://evil.example)",
              from_user=Users.BOB)
    await settled(stack)
    [note] = [m for m in stack.teams.thread(root.id) if m.text and "Rolling back" in m.text]
    assert note.text == "Bob Singh noted: Rolling back *release* 4.2, see [runbook](https://evil.example)"
    assert note.activity.get("textFormat") == "plain"


async def test_resolving_says_it_once_with_who_resolved_it(stack):
    _, root = await declare(stack, "Payments API down")
    await act(stack, root, "incident.resolve", summary="Rolled back the release")
    await settled(stack)
    said = [t for t in thread_texts(stack, root) if "Rolled back the release" in t]
    assert len(said) == 1, said
    assert "INC-1 · Resolved by Alice Carter" in said[0]
