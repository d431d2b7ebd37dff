"""Every card Beacon can send is valid Adaptive Card 1.5 and says what a responder needs."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from cards.forms import DeclareForm, SimilarOffer, declare_form
from cards.incident import IncidentView, incident_card
from cards.incident_forms import IncidentFormView, incident_form
from cards.messages import (
    ListedIncident,
    declared_card,
    error_card,
    help_card,
    incident_list_card,
    notice_card,
    welcome_card,
)
from services.config import parse_config
from services.incidents import Incident, Level, Person, Status
from services.verbs import Verb
from tests.cardschema import assert_valid_card

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Person("aad-alice", "Alice", "29:alice")
NAMELESS = Person("aad-unknown", "")
CONFIG = parse_config({
    "services": [{"name": "payments-api"}],
    "directory": {"clients": [{"name": "Contoso"}]},
})


def incident_in(status: Status, **overrides) -> Incident:
    incident = Incident.declare(title="Payments *down* <at>Eve</at> {{DATE(x)}}", description="details",
                                impact=Level.HIGH, urgency=Level.MEDIUM, priority="P2",
                                service="payments-api", client="Contoso", declared_by=ALICE,
                                commander=ALICE, source="chat", now=T0)
    incident.id, incident.version = 7, 4
    incident.status = status
    incident.responders = (ALICE, NAMELESS)
    incident.next_update_due = T0 + timedelta(hours=1)
    if status in (Status.RESOLVED, Status.CLOSED):
        incident.resolved_at, incident.resolution_summary = T0 + timedelta(hours=2), "rolled back"
    for key, value in overrides.items():
        setattr(incident, key, value)
    return incident


ALL_CARDS = {
    "welcome": welcome_card(),
    "help": help_card(),
    "help-unknown": help_card("I did not understand “foo”."),
    "list-empty": incident_list_card([], T0),
    "list": incident_list_card([ListedIncident(incident_in(Status.TRIAGE), "Alice", "https://teams.example/t/7",
                                               T0, "Failover started"),
                                ListedIncident(incident_in(Status.FIXING), "", "")], T0 + timedelta(hours=1)),
    "declared": declared_card("Declared as INC-7 by Alice: x", "https://teams.example/t/7"),
    "form-similar": declare_form(DeclareForm(title="x", similar=SimilarOffer(3, "INC-3", "Payments slow",
                                                                             "payments-api", "Bob", "12 min")),
                                 CONFIG, dialog=False),
    "error": error_card("INC-9 does not exist"),
    "notice": notice_card("nothing"),
    "form-card": declare_form(DeclareForm(title="x"), CONFIG, dialog=False),
    "form-dialog": declare_form(DeclareForm(error="title is required"), CONFIG, dialog=True),
    "form-bare-config": declare_form(DeclareForm(), parse_config({}), dialog=False),
    **{f"incident-{s.value}": incident_card(IncidentView(incident_in(s))) for s in Status},
    "incident-stale": incident_card(IncidentView(incident_in(Status.FIXING), notice="Not applied",
                                                 notice_lines=("Bob moved it", "Eve noted"))),
    "incident-error": incident_card(IncidentView(incident_in(Status.TRIAGE), notice="no", is_error=True)),
    "incident-named-later": incident_card(IncidentView(
        incident_in(Status.TRIAGE), people={"aad-unknown": Person("aad-unknown", "Nia", "29:nia")})),
}


@pytest.mark.parametrize("name", sorted(ALL_CARDS))
def test_every_card_is_valid_adaptive_card_1_5(name):
    assert_valid_card(ALL_CARDS[name])
    assert ALL_CARDS[name]["msteams"]["width"] == "Full"


def _actions(node):
    """Every action on the card, wherever it sits (the primary row, "More…", forms)."""
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            yield node
        for value in node.values():
            yield from _actions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _actions(value)


def test_incident_card_shows_what_a_responder_checks():
    card = incident_card(IncidentView(incident_in(Status.INVESTIGATING), now=T0 + timedelta(minutes=30)))
    raw = json.dumps(card, ensure_ascii=False)
    assert "INC-7 · **Investigating**" in raw and "High × Medium" in raw
    assert "payments-api" in raw and "Contoso" in raw
    assert "{{TIME(2026-03-01T13:00:00Z)}}" in raw  # next update, in the reader's time zone
    mentioned = {e["mentioned"]["id"]: e["mentioned"]["name"] for e in card["msteams"]["entities"]}
    assert mentioned == {"29:alice": "Alice"}
    assert card["body"][0]["style"] == "warning"  # P2 colour


def test_user_text_cannot_forge_mentions_or_card_functions():
    raw = json.dumps(incident_card(IncidentView(incident_in(Status.TRIAGE))))
    assert "<at>Eve</at>" not in raw and "{{DATE(x)}}" not in raw


def test_actions_carry_incident_id_and_version():
    card = incident_card(IncidentView(incident_in(Status.TRIAGE)))
    executes = [a for a in _actions(card) if a["type"] == "Action.Execute"]
    assert {a["verb"] for a in executes} >= {"incident.ack", "incident.take_command"}
    assert all(a["data"] == {"incidentId": 7, "version": 4} for a in executes)
    dialogs = [a for a in _actions(card) if a["type"] == "Action.Submit"]  # forms open in a dialog (task/fetch)
    assert {a["data"]["verb"] for a in dialogs} == {"incident.post_update", "incident.status", "incident.note",
                                                    "incident.assign", "incident.reassess", "incident.resolve"}
    assert all(a["data"] == {"msteams": {"type": "task/fetch"}, "verb": a["data"]["verb"], "incidentId": 7,
                             "version": 4} for a in dialogs)


def test_status_choices_follow_the_lifecycle_table():
    form = incident_form(IncidentFormView(Verb.STATUS, incident_in(Status.FIXING)))
    values = [c["value"] for c in next(b for b in form["body"] if b.get("id") == "status")["choices"]]
    assert values == ["investigating", "verifying"]


def test_resolved_card_offers_close_first_and_reopen():
    card = incident_card(IncidentView(incident_in(Status.RESOLVED)))
    titles = [a["title"] for a in _actions(card) if a["type"] != "Action.ToggleVisibility"]
    assert titles == ["Close", "More…", "Reopen"]
    assert "rolled back" in json.dumps(card)


def test_people_picker_searches_the_directory_in_a_dialog_and_the_conversation_in_a_chat():
    def dataset(dialog: bool) -> str:
        form = declare_form(DeclareForm(), CONFIG, dialog=dialog)
        return next(b for b in form["body"] if b.get("id") == "commander")["choices.data"]["dataset"]
    assert dataset(True) == "graph.microsoft.com/users"
    assert dataset(False) == "graph.microsoft.com/users?scope=currentContext"


def test_schema_check_catches_a_broken_card():
    broken = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock"}]}
    with pytest.raises(AssertionError):
        assert_valid_card(broken)


def test_a_stakeholder_update_of_emoji_and_cjk_still_fits_one_teams_message():
    """4,000 characters escaped on the wire as \\uXXXX (an emoji as two): the card is cut, says so,
    and keeps what is affected, the next update and whom to contact."""
    from cards.budget import fits
    from cards.updates import message_card
    from services.comms.messages import STAKEHOLDERS, UPDATE, compose

    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    incident = Incident.declare(title="決済が失敗しています " * 10, description="", impact=Level.HIGH,
                                urgency=Level.HIGH, priority="P1", service="payments-api", client="",
                                declared_by=Person("aad-1", "Alice"), commander=None, source="chat", now=now)
    incident.id = 1
    message = compose(incident, CONFIG, UPDATE, STAKEHOLDERS, at=now, text="🚨" * 4000, sequence=1)
    built = message_card(message)
    assert fits(built)
    assert_valid_card(built)
    shown = json.dumps(built, ensure_ascii=False)
    assert "🚨…" in shown and "Next update:" in shown and "Who to contact:" in shown


def _styles(card: dict) -> dict[str, str]:
    """Each button's title and how Teams shows it ("positive": the one the card is for)."""
    return {a["title"]: a.get("style", "default") for a in _actions(card) if a["type"] != "Action.ToggleVisibility"}


@pytest.mark.parametrize(("status", "overrides", "primary"), [
    (Status.TRIAGE, {"acknowledged_at": None}, "Acknowledge"),
    (Status.MONITORING, {"acknowledged_at": T0}, "Resolve"),
    (Status.RESOLVED, {}, "Close"),
])
def test_the_button_that_moves_the_incident_on_stands_out(status, overrides, primary):
    """Acknowledge, Resolve (it opens the resolve dialog) and Close are green, wherever they are;
    the everyday buttons are not."""
    card = incident_card(IncidentView(incident_in(status, **overrides)))
    styles = _styles(card)
    assert styles[primary] == "positive"
    assert {title for title, style in styles.items() if style != "default"} <= {"Acknowledge", "Resolve", "Close"}


def test_a_button_looks_the_same_in_a_dialog_as_on_a_card():
    from cards.client_summary import ClientSummaryView, client_summary_card, client_summary_preview
    from cards.oncall import OverrideFormView, override_form
    from cards.report_form import ReportFormView, report_form

    resolve = incident_form(IncidentFormView(Verb.RESOLVE, incident_in(Status.MONITORING)))
    assert _styles(resolve) == {"Resolve incident": "positive"}
    for dialog in (True, False):
        assert _styles(declare_form(DeclareForm(title="x"), CONFIG, dialog=dialog)) == {"Declare incident": "positive"}
        similar = declare_form(DeclareForm(title="x", similar=SimilarOffer(3, "INC-3", "Slow", "payments-api", "Bob",
                                                                           "2 min")), CONFIG, dialog=dialog)
        assert _styles(similar) == {"Join INC-3 instead": "positive", "Declare a new incident": "default"}
        report = report_form(ReportFormView("INC-7", "Payments down", 7), dialog=dialog)
        assert _styles(report) == {"Submit report": "positive", "Add an action": "default"}
        override = override_form(OverrideFormView([("Primary", "UTC")], [("Eve", "eve")]), dialog=dialog)
        assert _styles(override) == {"Save override": "positive"}
    summary = ClientSummaryView("INC-7", "Payments down", 7, "Contoso", "Avery", "", {}, [], 1)
    assert _styles(client_summary_card(summary))["Approve & send"] == "positive"
    assert _styles(client_summary_preview(summary)) == {"Approve & send": "positive", "Edit": "default"}
