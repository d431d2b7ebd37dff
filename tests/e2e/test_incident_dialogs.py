"""The incident card's forms open in Teams dialogs (forms with inputs on a card submitted by
Action.Execute misbehave on Teams' mobile clients): through /api/messages, as Teams sends the
dialog's task/fetch and task/submit, each form opens with a valid card, comes back after a
mistake with everything typed and the problem beside its field, applies once, and is refused to
whoever the policy refuses, or when it names another incident than the clicked card's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.cardtext import input_values
from tests.e2e.helpers import (
    act,
    card_text,
    declare,
    dialog_card,
    in_dialog,
    open_dialog,
    settled,
    submit_dialog,
)
from tests.e2e.test_guests import GUEST, guest_member
from tests.e2e.test_roster import STILL_CHECKING, installed
from tests.teams_activities import Person, Users

FORMS = {"incident.post_update": ["audience", "update"], "incident.status": ["status"], "incident.note": ["note"],
         "incident.assign": ["responders"], "incident.reassess": ["impact", "urgency"],
         "incident.resolve": ["summary"]}
UNKNOWN = Person.named("Uma Unknown")  # in no roster Beacon keeps, nor in the team


def beside(card: dict[str, Any], input_id: str) -> str:
    """The text right under an input: where the form says what is wrong with it."""
    body = card["body"]
    index = next(i for i, item in enumerate(body) if item.get("id") == input_id)
    after = body[index + 1] if index + 1 < len(body) else {}
    return str(after.get("text", "")) if after.get("type") == "TextBlock" else ""


async def kinds(stack: Any, incident_id: int = 1) -> list[str]:
    async with stack.beacon.deps.uow() as uow:
        return [e.kind for e in await uow.timeline.of(incident_id) if not e.kind.startswith("delivery_")]


def shown_card(stack: Any, root: Any) -> dict[str, Any]:
    return stack.teams.current(root.id)["attachments"][0]["content"]


async def test_the_card_has_no_inputs_and_each_form_opens_in_a_dialog(stack):
    _, root = await declare(stack)
    await act(stack, root, "incident.take_command")
    await settled(stack)
    card = shown_card(stack, root)
    assert input_values(card) == {}  # nothing to type on the card itself: every form is a dialog
    for verb, fields in FORMS.items():
        body = await open_dialog(stack, root, verb)
        form = dialog_card(body)
        assert list(input_values(form)) == fields, verb
        assert "INC-1" in body["task"]["value"]["title"] and "Payments API down" in card_text(form)
        [button] = form["actions"]
        assert button["type"] == "Action.Submit" and button["data"]["verb"] == verb
        assert button["data"]["incidentId"] == 1
    assert input_values(dialog_card(await open_dialog(stack, root, "incident.reassess"))) == {"impact": "high",
                                                                                     "urgency": "high"}


async def test_a_missing_field_comes_back_beside_it_with_everything_typed(stack):
    _, root = await declare(stack)
    await act(stack, root, "incident.take_command")
    await settled(stack)
    before = await kinds(stack)
    form = dialog_card(await open_dialog(stack, root, "incident.post_update"))
    again = dialog_card(await submit_dialog(stack, root, form, audience="stakeholders", update="   "))
    assert input_values(again)["audience"] == "stakeholders"
    assert beside(again, "update") == "Write the update." and beside(again, "audience") == ""
    assert "everything you typed is kept" in card_text(again)

    form = dialog_card(await open_dialog(stack, root, "incident.assign"))
    again = dialog_card(await submit_dialog(stack, root, form, responders=""))
    assert beside(again, "responders") == "Choose at least one responder."

    form = dialog_card(await open_dialog(stack, root, "incident.reassess"))
    again = dialog_card(await submit_dialog(stack, root, form, impact="low", urgency="sky-high"))
    assert input_values(again)["impact"] == "low" and beside(again, "impact") == ""
    assert "Choose the urgency" in beside(again, "urgency")

    form = dialog_card(await open_dialog(stack, root, "incident.resolve"))
    again = dialog_card(await submit_dialog(stack, root, form, summary=""))
    assert beside(again, "summary") == "Say what fixed it."
    long = "x" * 5000  # longer than a note may be: the domain's own check, beside the field too
    form = dialog_card(await open_dialog(stack, root, "incident.note"))
    again = dialog_card(await submit_dialog(stack, root, form, note=long))
    assert beside(again, "note") and input_values(again)["note"].startswith("xxx")
    await settled(stack)
    assert await kinds(stack) == before  # nothing changed


async def test_a_valid_submit_changes_the_incident_once_and_the_card_for_everyone(stack):
    _, root = await declare(stack)
    await act(stack, root, "incident.take_command")
    await settled(stack)
    before = await kinds(stack)
    form = dialog_card(await open_dialog(stack, root, "incident.post_update"))
    first = await submit_dialog(stack, root, form, audience="responders", update="Rolling back the release")
    assert first["task"] == {"type": "message", "value": "Update posted to INC-1."}
    repeated = await submit_dialog(stack, root, form, audience="responders", update="Rolling back the release")
    assert repeated["task"] == {"type": "message", "value": "That action was already applied."}
    note = dialog_card(await open_dialog(stack, root, "incident.note"))
    for _ in range(2):
        await submit_dialog(stack, root, note, note="Error rate back to normal")
    await settled(stack)
    added = (await kinds(stack))[len(before):]
    assert added.count("status_update") == 1 and added.count("note") == 1
    assert "Rolling back the release" in card_text(shown_card(stack, root))  # Beacon's update, for everyone

    answer = await in_dialog(stack, root, "incident.status", status="investigating")
    assert answer["task"] == {"type": "message", "value": "INC-1 is now investigating."}
    await settled(stack)  # the card in the channel shows the new status: its Resolve dialog is current
    answer = await in_dialog(stack, root, "incident.resolve", summary="Rolled back the release")
    assert answer["task"] == {"type": "message", "value": "INC-1 is resolved."}
    await settled(stack)
    assert "INC-1 · Resolved" in card_text(shown_card(stack, root)).replace("**", "")


async def test_a_stale_dialog_shows_what_changed_and_keeps_what_was_typed(stack):
    _, root = await declare(stack)
    await act(stack, root, "incident.take_command")
    await settled(stack)
    form = dialog_card(await open_dialog(stack, root, "incident.status"))
    await in_dialog(stack, root, "incident.status", from_user=Users.BOB, status="investigating")
    again = dialog_card(await submit_dialog(stack, root, form, status="fixing"))
    assert "changed since your card was shown" in card_text(again) and input_values(again)["status"] == "fixing"
    answer = await submit_dialog(stack, root, again, status="fixing")  # seen it: now it applies
    assert answer["task"]["value"] == "INC-1 is now fixing."


async def test_a_guest_or_an_unknown_person_is_refused_opening_and_submitting(database_url):
    guest = guest_member(replace(GUEST, tenant_id=Users.ALICE.tenant_id))
    async with installed(database_url, Users.ALICE, guest) as stack:
        _, root = await declare(stack)
        await settled(stack)
        form = dialog_card(await open_dialog(stack, root, "incident.note"))
        before = await kinds(stack)
        for person, reason in ((GUEST, "Not allowed: guests can only read INC-1."), (UNKNOWN, STILL_CHECKING)):
            for verb in ("incident.note", "incident.post_update"):
                body = await open_dialog(stack, root, verb, from_user=person)
                assert body["task"] == {"type": "message", "value": reason}, (person, verb, body)
            body = await submit_dialog(stack, root, form, from_user=person, note="let me in")
            assert body["task"] == {"type": "message", "value": reason}, (person, body)
        await settled(stack)
        assert "note" not in (await kinds(stack))[len(before):]


async def test_a_dialog_naming_another_incident_than_the_clicked_card_is_refused(stack):
    _, first = await declare(stack, "Checkout down")
    _, second = await declare(stack, "Search slow")
    await settled(stack)
    body = await open_dialog(stack, first, "incident.note", incidentId=2)
    assert body["task"]["type"] == "message"
    assert "INC-1" in body["task"]["value"] and "INC-2" in body["task"]["value"]
    form = dialog_card(await open_dialog(stack, second, "incident.note"))  # INC-2's own dialog …
    body = await submit_dialog(stack, first, form, note="forged")  # … submitted from INC-1's card
    assert body["task"]["type"] == "message" and "INC-2" in body["task"]["value"]
    await settled(stack)
    assert "note" not in await kinds(stack, 2)
    assert "note" not in await kinds(stack, 1)  # nor does it land on the card's own incident
    own = dialog_card(await open_dialog(stack, first, "incident.note"))  # INC-1's own dialog from its card does
    await submit_dialog(stack, first, own, note="genuine")  # answered once the note is recorded
    assert "note" in await kinds(stack, 1)
    assert "note" not in await kinds(stack, 2)


async def test_an_inline_form_on_a_card_posted_before_the_dialogs_still_works(stack):
    """Cards already in channels carry their forms inline, submitted by Action.Execute."""
    _, root = await declare(stack)
    answer = await act(stack, root, "incident.note", note="From an old card")
    assert "INC-1" in card_text(answer)
    assert "note" in await kinds(stack)


async def test_a_stakeholder_update_from_a_stale_dialog_says_where_it_went_and_what_changed_since(stack):
    _, root = await declare(stack)
    await act(stack, root, "incident.take_command")
    await settled(stack)
    form = dialog_card(await open_dialog(stack, root, "incident.post_update"))
    for number in range(1, 8):  # more changes than the answer lists: the earliest are counted
        await act(stack, root, "incident.note", note=f"Check {number} done", from_user=Users.BOB)
    answer = await submit_dialog(stack, root, form, audience="stakeholders", update="Failover under way")
    told = answer["task"]["value"].splitlines()
    assert told[0] == "Update posted to INC-1." and any(line.startswith("• Email: ") for line in told)
    changes = told.index("Applied on top of changes you had not seen:")
    assert told[changes + 1:] == [*(f"• Check {n} done" for n in range(3, 8)),
                                  "• …and 2 earlier changes"]


async def test_an_assignment_refused_comes_back_with_the_people_it_named(stack):
    _, root = await declare(stack)
    await act(stack, root, "incident.note", note="Looking", from_user=Users.BOB)  # Beacon has met Bob
    await settled(stack)
    form = dialog_card(await open_dialog(stack, root, "incident.assign"))
    chosen = [Users.BOB.aad_object_id, *(f"00000000-0000-0000-0000-{n:012d}" for n in range(25))]
    again = dialog_card(await submit_dialog(stack, root, form, responders=",".join(chosen)))
    assert "at most 25" in beside(again, "responders")
    picker = next(item for item in again["body"] if item.get("id") == "responders")
    assert picker["value"] == ",".join(chosen)
    assert {"title": Users.BOB.name, "value": Users.BOB.aad_object_id} in picker["choices"]
