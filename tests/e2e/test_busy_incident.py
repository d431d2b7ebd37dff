"""A long, busy incident through /api/messages: a click on a card that is hundreds of changes old is
told the latest few changes and how many came before (never the whole history), and many responders
clicking one incident at the same moment all get their change applied, queued one after another."""

from __future__ import annotations

import asyncio

from services.incidents import Person as Actor
from tests.e2e.helpers import act, card_text, card_version, declare, settled
from tests.teams_activities import Person, Users, card_action_invoke

NOTES = 300
RESPONDERS = [Person.named(f"Responder {n:02d}") for n in range(20)]


async def add_history(stack, incident_id: int, notes: int) -> None:  # type: ignore[no-untyped-def]
    """Months of notes on the incident, written as the use cases write them (one version each)."""
    now = stack.beacon.deps.clock.now()
    async with stack.beacon.deps.uow() as uow:
        incident = await uow.incidents.get(incident_id)
        for n in range(1, notes + 1):
            incident.add_note(f"Checked shard {n}", Actor(Users.CAROL.aad_object_id, Users.CAROL.name,
                                                          Users.CAROL.id), now)
            await uow.incidents.save(incident)
        await uow.commit()


async def kinds(stack, incident_id: int = 1) -> list[str]:  # type: ignore[no-untyped-def]
    async with stack.beacon.deps.uow() as uow:
        return [e.kind for e in await uow.timeline.of(incident_id)]


async def test_a_card_hundreds_of_changes_old_is_told_the_latest_few_and_how_many_before(stack):
    _, root = await declare(stack)
    shown = card_version(root.cards[0])  # Alice's card, as Teams showed it then
    await act(stack, root, "incident.status", status="investigating", from_user=Users.BOB)
    await add_history(stack, 1, NOTES)

    answer = await act(stack, root, "incident.status", version=shown, status="fixing")
    text = card_text(answer)
    assert "out of date" in text and "INC-1 · **Investigating**" in text  # Bob's change stands
    assert [f"Checked shard {n}" in text for n in range(NOTES - 5, NOTES + 1)] == [False] + [True] * 5
    # Bob's status change and 295 notes came before the five shown.
    assert "…and 296 earlier changes" in text
    assert (await kinds(stack)).count("status_changed") == 1

    # A change nobody else touched applies, with the same short account of what was missed.
    answer = await act(stack, root, "incident.note", version=shown, from_user=RESPONDERS[0], note="Shard 7 is back")
    text = card_text(answer)
    assert "Applied on top of changes you had not seen" in text and "…and 296 earlier changes" in text
    assert "Checked shard 300" in text and "Checked shard 295" not in text
    assert (await kinds(stack)).count("note") == NOTES + 1


async def test_twenty_responders_clicking_one_busy_incident_at_once_all_get_their_change(stack):
    _, root = await declare(stack)
    await add_history(stack, 1, NOTES)
    async with stack.beacon.deps.uow() as uow:
        version = (await uow.incidents.get(1)).version  # every responder's card is up to date

    def note(person: Person) -> dict:  # type: ignore[type-arg]
        return card_action_invoke("incident.note", {"incidentId": 1, "version": version,
                                                    "note": f"{person.name} checked their region"},
                                  reply_to_id=root.id, service_url=stack.url, from_user=person)

    answers = await asyncio.gather(*(stack.invoke_card(note(person)) for person in RESPONDERS))
    texts = [card_text(a) for a in answers]
    assert not [t[:300] for t in texts if "did not work" in t or "too fast" in t]
    # Each saw the card as it was after their own note; those who came after another were told.
    assert sum("Applied on top of changes you had not seen" in t for t in texts) == len(RESPONDERS) - 1
    versions = sorted(card_version(a) for a in answers)
    assert versions == list(range(version + 1, version + len(RESPONDERS) + 1))
    notes = [k for k in await kinds(stack) if k == "note"]
    assert len(notes) == NOTES + len(RESPONDERS)
    await settled(stack)
    async with stack.beacon.deps.uow() as uow:
        assert card_version(root.cards[0]) == (await uow.incidents.get(1)).version


async def test_notes_queued_behind_a_slow_thread_go_out_together_once_each_in_order(stack):
    _, root = await declare(stack)
    await settled(stack)
    before = len(stack.teams.thread(root.id))
    # Teams takes 5 s over the first note's reply; twelve more notes are added meanwhile.
    stack.teams.delay_next(1, 5.0, operation="reply")
    said = [f"Region {n} checked" for n in range(13)]
    await act(stack, root, "incident.note", from_user=RESPONDERS[0], note=said[0])
    for n, text in enumerate(said[1:], start=1):
        await act(stack, root, "incident.note", from_user=RESPONDERS[n], note=text)
    await settled(stack)

    replies = [m.text or "" for m in stack.teams.thread(root.id)[before:] if m.text]
    lines = [line for reply in replies for line in reply.splitlines() if "checked" in line]
    # Every note reached the thread exactly once, in the order they were added...
    assert [next(t for t in said if t in line) for line in lines] == said
    assert all(f"{RESPONDERS[n].name}" in lines[n] for n in range(13))
    # ...the first on its own, the twelve that waited behind it in one reply, not twelve.
    assert len(replies) == 2, replies
    async with stack.beacon.deps.uow() as uow:
        rows = await uow.outbox.of_incident(1)
    # The reply of the second carried the other eleven, whose rows say so.
    assert sum(r.kind == "teams.thread_note" and r.status == "skipped" for r in rows) == 11
