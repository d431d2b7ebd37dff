""""Impact started at" on the declare form: read on the declarer's clock, refused when it cannot be
true, and shown back as typed when the form comes back with an error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cards.forms import DeclareForm, declare_form
from services.config import parse_config
from services.declaring import parse_declaration
from services.impact_start import impact_started_at
from services.incidents import Incident, Level, Person, ValidationFailed
from tests.cardschema import assert_valid_card

NOW = datetime(2026, 3, 1, 0, 10, tzinfo=UTC)  # 01:10 in Berlin, 19:10 the day before in New York


def test_empty_means_the_impact_started_when_it_was_declared():
    assert impact_started_at("", None, now=NOW, zone="Europe/Berlin") is None


def test_a_date_and_time_are_read_on_the_declarers_clock():
    assert impact_started_at("2026-03-01", "00:45", now=NOW, zone="Europe/Berlin") == \
        datetime(2026, 2, 28, 23, 45, tzinfo=UTC)
    assert impact_started_at("2026-02-28", "18:30", now=NOW, zone="America/New_York") == \
        datetime(2026, 2, 28, 23, 30, tzinfo=UTC)


def test_a_time_alone_is_the_latest_such_time_not_in_the_future():
    # 23:50 typed at 01:10 Berlin time is yesterday evening, not tonight.
    assert impact_started_at("", "23:50", now=NOW, zone="Europe/Berlin") == datetime(2026, 2, 28, 22, 50, tzinfo=UTC)
    assert impact_started_at("", "00:55", now=NOW, zone="Europe/Berlin") == datetime(2026, 2, 28, 23, 55, tzinfo=UTC)


def test_without_a_zone_the_values_are_utc():
    assert impact_started_at("2026-02-28", "23:00", now=NOW, zone="") == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert impact_started_at("2026-02-28", "23:00", now=NOW, zone="Not/AZone") == \
        datetime(2026, 2, 28, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(("day", "clock", "says"), [
    ("2026-03-01", "", "give the time"),
    ("2026-03-02", "09:00", "in the future"),
    ("2026-01-01", "09:00", "more than 30 days ago"),
    ("01/03/2026", "09:00", "is not a date"),
    ("2026-02-30", "09:00", "is not a date"),
    ("2026-03-01", "25:00", "is not a time"),
    ("2026-03-01", "nine", "is not a time"),
])
def test_an_impossible_start_is_refused_saying_why(day, clock, says):
    with pytest.raises(ValidationFailed) as refused:
        impact_started_at(day, clock, now=NOW, zone="Europe/Berlin")
    assert says in str(refused.value) and refused.value.field == "impact_started_at"


def test_the_declaration_carries_the_start_and_the_domain_refuses_one_after_it():
    fields = parse_declaration({"title": "Payments down", "impact_date": "2026-03-01", "impact_time": "00:45"},
                               parse_config({}), now=NOW, zone="Europe/Berlin")
    assert fields["impact_started_at"] == datetime(2026, 2, 28, 23, 45, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        Incident.declare(title="t", description="", impact=Level.LOW, urgency=Level.LOW, priority="P4", service="",
                         client="", declared_by=Person("a"), commander=None, source="chat", now=NOW,
                         impact_started_at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC))


def test_the_form_shown_again_keeps_the_start_as_typed():
    form = DeclareForm.from_values({"title": "x", "impact_date": "2026-03-01", "impact_time": "00:45"},
                                   error="the impact start is in the future")
    card = declare_form(form, parse_config({}), dialog=False)
    assert_valid_card(card)
    inputs = {b.get("id"): b for b in card["body"]}
    assert inputs["impact_date"]["type"] == "Input.Date" and inputs["impact_date"]["value"] == "2026-03-01"
    assert inputs["impact_time"]["type"] == "Input.Time" and inputs["impact_time"]["value"] == "00:45"
    garbage = declare_form(DeclareForm.from_values({"impact_date": "soon"}), parse_config({}), dialog=False)
    assert "value" not in {b.get("id"): b for b in garbage["body"]}["impact_date"]
