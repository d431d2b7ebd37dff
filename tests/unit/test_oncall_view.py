"""What `@Beacon oncall` shows and how an override's end is read: the schedule's clock (DST
included), a clear refusal for what cannot be meant, and a card that passes the Adaptive Card
1.5 schema with both clocks written out."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from cards.oncall import OncallCardView, OverrideFormView, oncall_card, override_form
from services.config import parse_config
from services.paging.config import ScheduleEntry
from services.paging.oncall_view import schedule_views
from services.paging.overrides import OverrideRefused, parse_until
from services.paging.shifts import Override
from tests.cardschema import assert_valid_card
from tests.cardtext import shown


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


LONDON = ScheduleEntry(name="payments-primary", time_zone="Europe/London", shift=timedelta(weeks=1),
                       handoff=time(9, 0), start=date(2026, 10, 19), people=["ada@contoso.com", "grace@contoso.com"])
CONFIG = parse_config({
    "services": [{"name": "payments-api", "team": "payments"}],
    "directory": {"teams": [{"name": "payments", "members": [
        {"name": "Ada Lovelace", "email": "ada@contoso.com"}, {"name": "Grace Hopper", "email": "grace@contoso.com"},
        {"name": "Linus Lee", "email": "linus@contoso.com"}]}]},
    "oncall": {"schedules": [LONDON.model_dump()]},
})
NOW = utc(2026, 10, 21, 12)  # Wednesday of Ada's first week, BST


@pytest.mark.parametrize(("typed", "meant"), [
    ("2026-10-22 18:00", utc(2026, 10, 22, 17)),  # BST: one hour ahead of UTC
    ("2026-10-22T18:00", utc(2026, 10, 22, 17)),
    ("2026-10-27 18:00", utc(2026, 10, 27, 18)),  # after the clocks went back: GMT
    ("2026-10-26", utc(2026, 10, 26, 9)),  # a day alone: that day's handoff (09:00 GMT)
    ("tomorrow 07:30", utc(2026, 10, 22, 6, 30)),
    ("Tomorrow", utc(2026, 10, 22, 8)),
    ("18:00", utc(2026, 10, 21, 17)),  # later today
    ("12:30", utc(2026, 10, 22, 11, 30)),  # 12:30 BST is 11:30 UTC, before now: tomorrow's
])
def test_the_end_of_an_override_is_read_on_the_schedules_clock(typed, meant):
    assert parse_until(typed, LONDON, NOW) == meant


@pytest.mark.parametrize(("typed", "says"), [
    ("next friday-ish", "is not a date and time Beacon understands"),
    ("2026-02-30 09:00", "is not a date and time"),
    ("2026-10-21 25:00", "is not a date and time"),
    ("2026-10-20 09:00", "is in the past"),
    ("2027-06-01 09:00", "at most 90 days"),
    ("", "Give the end of the override"),
])
def test_what_cannot_be_meant_is_refused_with_the_reason(typed, says):
    with pytest.raises(OverrideRefused) as refused:
        parse_until(typed, LONDON, NOW)
    assert says in str(refused.value) and refused.value.field == "until"


def test_a_wall_time_the_spring_change_skips_is_refused():
    spring = utc(2027, 3, 27, 12)  # the day before London springs forward at 01:00 GMT
    with pytest.raises(OverrideRefused, match="does not exist in Europe/London"):
        parse_until("2027-03-28 01:30", LONDON, spring)


def test_the_view_names_who_is_on_call_the_next_handoff_and_the_override_with_who_set_it():
    cover = Override("payments-primary", "linus@contoso.com", utc(2026, 10, 23, 8), utc(2026, 10, 24, 8),
                     utc(2026, 10, 21, 11), id=4, created_by="Ada Lovelace")
    [view] = schedule_views(CONFIG, NOW, [cover])
    assert (view.person, view.source, view.until) == ("Ada Lovelace", "rotation", utc(2026, 10, 23, 8))
    assert (view.next_person, view.next_at) == ("Linus Lee", utc(2026, 10, 23, 8))
    assert [(o.id, o.person, o.created_by) for o in view.overrides] == [(4, "Linus Lee", "Ada Lovelace")]
    during = schedule_views(CONFIG, utc(2026, 10, 23, 12), [cover])[0]
    assert (during.person, during.source, during.next_person) == ("Linus Lee", "override", "Ada Lovelace")


def test_the_card_shows_both_clocks_and_offers_override_and_remove():
    cover = Override("payments-primary", "linus@contoso.com", utc(2026, 10, 23, 8), utc(2026, 10, 24, 8),
                     utc(2026, 10, 21, 11), id=4, created_by="Ada Lovelace")
    card = oncall_card(OncallCardView(schedule_views(CONFIG, NOW, [cover]), "America/New_York"))
    assert_valid_card(card)
    seen = shown(card)
    assert "Ada Lovelace" in seen and "Linus Lee" in seen
    # Fri 23 Oct 09:00 BST is 04:00 in New York (EDT)
    assert "Fri 23 Oct 09:00 BST (Europe/London) · Fri 23 Oct 04:00 EDT your time (America/New_York)" in seen
    assert "set by Ada Lovelace" in seen
    titles = [a["title"] for a in card["actions"]]
    assert titles == ["Override", "Refresh"] and card["actions"][0]["data"]["msteams"] == {"type": "task/fetch"}
    remove = [a for block in card["body"][1]["items"] if block["type"] == "ActionSet" for a in block["actions"]]
    assert remove[0]["data"] == {"schedule": "payments-primary", "overrideId": 4}


def test_the_card_without_schedules_says_where_to_configure_them():
    card = oncall_card(OncallCardView([]))
    assert_valid_card(card)
    assert "oncall.schedules" in shown(card) and "actions" not in card


def test_the_form_keeps_what_was_typed_and_shows_the_problem_under_its_field():
    view = OverrideFormView([("payments-primary", "Europe/London")], [("Grace Hopper", "grace@contoso.com")],
                            {"schedule": "payments-primary", "person": "grace@contoso.com", "until": "someday"},
                            {"until": "“someday” is not a date and time Beacon understands."})
    for dialog in (True, False):
        form = override_form(view, dialog=dialog)
        assert_valid_card(form)
        inputs = {b["id"]: b.get("value") for b in form["body"] if "id" in b}
        assert inputs == {"schedule": "payments-primary", "person": "grace@contoso.com", "until": "someday"}
        ids = [b.get("id") for b in form["body"]]
        problem = form["body"][ids.index("until") + 1]
        assert problem["color"] == "attention" and "someday" in problem["text"]
