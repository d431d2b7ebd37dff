"""`@Beacon oncall` through /api/messages as Teams sends it: who is on call in the reader's time zone,
an override made with a real @mention (or in the card's dialog) that is stored, audited, shown and
redirects the next page, bad input refused with nothing changed, and removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.paging.tables import OncallAuditRow, OverrideRow
from tests.cardschema import assert_valid_card
from tests.e2e.conftest import Stack
from tests.e2e.helpers import card_text, eventually
from tests.e2e.paging_helpers import ADA, ADA_PHONE, BEARER, GRACE, GRACE_PHONE, alert
from tests.e2e.test_paging import paging, personal_pages, sms_to
from tests.teams_activities import Person, Users, card_action_invoke, channel_message, task_fetch, task_submit

CAROL = Person.named("Carol Jones")  # in the team's roster, not in Beacon's directory


def said(person: Person, text: str, *, timezone: str = "Europe/London", mentioning: tuple[Person, ...] = ()) -> Any:
    """A channel message to @Beacon that @mentions people as Teams does: `<at>Name</at>` in the text
    and a mention entity with their Teams user id (no Entra id)."""
    activity = channel_message(text, service_url="", from_user=person, timezone=timezone)
    for other in mentioning:
        activity["entities"].append({"type": "mention", "text": f"<at>{other.name}</at>",
                                     "mentioned": {"id": other.id, "name": other.name}})
    return activity


async def ask(stack: Stack, activity: dict[str, Any]) -> str:
    """Send a message; the text of the on-call card Beacon answers with."""
    activity["serviceUrl"] = stack.url
    status, _ = await stack.send(activity)
    assert status in (200, 201)
    reply = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == activity["id"]),
                                                      None), timeout=20)
    assert reply.cards, reply.text
    assert_valid_card(reply.cards[0])
    return card_text(reply.cards[0])


async def stored(stack: Stack) -> tuple[int, int]:
    async with stack.beacon.deps.uow() as uow:
        overrides = await uow.session.scalar(select(func.count()).select_from(OverrideRow))
        audit = await uow.session.scalar(select(func.count()).select_from(OncallAuditRow))
    return overrides or 0, audit or 0


def tomorrow_noon() -> str:
    return f"{(datetime.now(UTC) + timedelta(days=1)).date().isoformat()} 12:00"


async def test_oncall_shows_who_is_on_call_and_the_next_handoff_in_the_readers_time_zone(database_url):
    async with paging(database_url) as (stack, _):
        text = await ask(stack, said(ADA, "oncall", timezone="America/New_York"))
        assert "Who is on call" in text and "payments-primary" in text
        assert "Ada Lovelace" in text and "Next" in text and "Grace Hopper from" in text
        # The handoff on the schedule's clock (UTC here) and on the reader's.
        assert "(UTC)" in text and "your time (America/New_York)" in text
        assert '"title": "Override"' in text and "task/fetch" in text


async def test_an_override_made_with_a_mention_is_audited_shown_and_pages_the_cover(database_url):
    async with paging(database_url) as (stack, twilio):
        until = tomorrow_noon()
        message = said(ADA, f"oncall override payments-primary <at>Grace Hopper</at> until {until}",
                       mentioning=(GRACE,))
        text = await ask(stack, message)
        assert "Override saved: Grace Hopper is on call for payments-primary instead of Ada Lovelace" in text
        assert "Grace Hopper (override)" in text and "set by Ada Lovelace" in text
        # Teams delivers the same message again: applied once (and answered with the card again).
        status, _ = await stack.send(message)
        assert status in (200, 201)
        assert await stored(stack) == (1, 1)
        async with stack.beacon.deps.uow() as uow:
            [entry] = await uow.oncall_overrides.history("payments-primary")
        assert entry.actor["name"] == ADA.name and entry.kind == "override_added"
        assert (entry.details["before"], entry.details["after"]) == (ADA.email.lower(), GRACE.email.lower())

        # The next alert pages Grace at level 1, not Ada.
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await eventually(lambda: personal_pages(stack, GRACE) and sms_to(twilio, GRACE_PHONE), timeout=20,
                         what="Grace's pages")
        await stack.beacon.settle()
        assert not personal_pages(stack, ADA) and not sms_to(twilio, ADA_PHONE)
        async with stack.beacon.deps.uow() as uow:
            [paged] = [e for e in await uow.timeline.of(1) if e.kind == "paged"]
        assert paged.summary.startswith("paged Grace Hopper by teams, sms (level 1 of payments")

        text = await ask(stack, said(ADA, "oncall override payments-primary clear"))
        assert "Removed 1 override of payments-primary" in text and "(override)" not in text
        assert await stored(stack) == (1, 2)


@pytest.mark.parametrize(("words", "mentioning", "says"), [
    ("oncall override nowhere <at>Grace Hopper</at> until {until}", (GRACE,),
     "There is no on-call schedule named “nowhere” (schedules: payments-primary)"),
    ("oncall override payments-primary <at>Grace Hopper</at> until next tuesday-ish", (GRACE,),
     "“next tuesday-ish” is not a date and time Beacon understands"),
    ("oncall override payments-primary <at>Grace Hopper</at> until 2020-01-01 09:00", (GRACE,), "is in the past"),
    ("oncall override payments-primary <at>Carol Jones</at> until {until}", (CAROL,),
     "Carol Jones is not in the directory"),
    ("oncall override payments-primary nobody@contoso.com until {until}", (), "nobody@contoso.com is not in the"),
    ("oncall override payments-primary clear", (), "payments-primary has no override to remove"),
    ("oncall overide payments-primary", (), "is not an on-call command"),
])
async def test_a_bad_override_says_why_and_changes_nothing(database_url, words, mentioning, says):
    async with paging(database_url) as (stack, _):
        stack.teams.add_member(CAROL)
        text = await ask(stack, said(ADA, words.format(until=tomorrow_noon()), mentioning=mentioning))
        assert "Nothing changed: " in text and says in text, text
        assert "Ada Lovelace" in text  # the card still shows who is on call
        assert await stored(stack) == (0, 0)


async def test_someone_outside_the_on_call_teams_may_look_but_not_override(database_url):
    async with paging(database_url) as (stack, _):
        text = await ask(stack, said(Users.DAN, "oncall"))
        assert "Ada Lovelace" in text
        message = {**said(Users.DAN, f"oncall override payments-primary {GRACE.email} until {tomorrow_noon()}"),
                   "serviceUrl": stack.url}
        await stack.send(message)
        reply = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == message["id"]),
                                                          None), timeout=20)
        assert reply.text == "Not allowed: only responders can override who is on call."
        assert await stored(stack) == (0, 0)


async def test_the_override_dialog_keeps_values_on_error_and_the_card_removes_it(database_url):
    async with paging(database_url) as (stack, _):
        status, body = await stack.send(task_fetch({"verb": "oncall.override_form"}, service_url=stack.url,
                                                   from_user=ADA))
        assert status == 200 and body["task"]["type"] == "continue", body
        form = body["task"]["value"]["card"]["content"]
        assert_valid_card(form)
        assert "Grace Hopper" in card_text(form) and "payments-primary" in card_text(form)

        typed = {"verb": "oncall.override", "schedule": "payments-primary", "person": GRACE.email.lower(),
                 "until": "someday"}
        status, body = await stack.send(task_submit(typed, service_url=stack.url, from_user=ADA))
        again = body["task"]["value"]["card"]["content"]
        values = {b["id"]: b.get("value") for b in again["body"] if "id" in b}
        assert values == {"schedule": "payments-primary", "person": GRACE.email.lower(), "until": "someday"}
        assert "“someday” is not a date and time" in card_text(again)
        assert await stored(stack) == (0, 0)

        status, body = await stack.send(task_submit({**typed, "until": tomorrow_noon()}, service_url=stack.url,
                                                     from_user=ADA))
        assert body["task"]["type"] == "message", body
        assert body["task"]["value"].startswith("Override saved: Grace Hopper is on call for payments-primary")

        text = await ask(stack, said(GRACE, "oncall"))
        assert "Grace Hopper (override)" in text
        async with stack.beacon.deps.uow() as uow:
            [override] = await uow.oncall_overrides.active(datetime.now(UTC))
        answer = await stack.invoke_card(card_action_invoke(
            "oncall.override_clear", {"schedule": "payments-primary", "overrideId": override.id},
            reply_to_id=stack.teams.posted()[-1].id, service_url=stack.url, from_user=GRACE))
        assert "Override removed" in card_text(answer) and "(override)" not in card_text(answer)
        assert await stored(stack) == (1, 2)
