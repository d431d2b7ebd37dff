"""The Reported issue card and the incident card's alert and ticket lines: valid Adaptive Card 1.5
in every state, saying what triage needs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cards.incident import IncidentView, incident_card
from cards.intake import ALL_RESOLVED, ReportView, incident_extras, reported_issue_card
from services.config import parse_config
from services.incidents import Incident, Level, Person, Status
from services.intake.reports import Report
from services.intake.summary import AlertLine, IntakeSummary, TicketLine
from tests.cardschema import assert_valid_card
from tests.cardtext import markdown_texts

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOB = Person("aad-bob", "Bob Singh")
CONFIG = parse_config({"services": [{"name": "payments-api"}, {"name": "web-portal"}],
                       "directory": {"clients": [{"name": "Contoso"}]}})
REPORT = Report(
    ticket_id=4711, subject="Checkout <at>Eve</at> down {{DATE(x)}}", description="Line one\n" + "x" * 2000,
    priority="High", requester_email="casey@contoso.example", company="Contoso Ltd", tags=("checkout", "web"),
    url="https://acme.freshdesk.com/a/tickets/4711", impact=Level.HIGH, urgency=Level.HIGH, client="Contoso",
    service="payments-api", reasons=("keyword 'all users' → impact high", "priority High → urgency high"),
    status="new", incident_id=None, decided_by=None, decided_at=None, reason="", received_at=T0)


def text_of(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def verbs(card: dict) -> list[str]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node["verb"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def test_a_new_report_offers_declare_merge_and_dismiss_with_the_triage_suggestion():
    card = reported_issue_card(ReportView(REPORT, "P1", [(3, "INC-3 P2 · Web portal slow")]), CONFIG)
    assert_valid_card(card)
    text = text_of(card)
    assert "Reported issue · Freshdesk #4711" in text and "Suggested **P1**" in text
    displayed = "\n".join(markdown_texts(card))
    assert "<at>" not in displayed and "{{DATE(x)}}" not in displayed  # reporter text is made safe
    assert "keyword 'all users'" in text and "…" in text  # reasons shown; long text cut
    assert verbs(card) == ["report.declare", "report.merge", "report.dismiss"]
    assert '"value": "3"' in text and "Open ticket" in text
    declare = card["actions"][0]["card"]["body"]
    prefilled = {block["id"]: block.get("value") for block in declare}
    assert prefilled["impact"] == "high" and prefilled["service"] == "payments-api"
    assert prefilled["client"] == "Contoso" and "Freshdesk ticket #4711" in prefilled["description"]


def test_without_open_incidents_there_is_nothing_to_merge_into():
    card = reported_issue_card(ReportView(replace(REPORT, url=""), "P3"), parse_config({}))
    assert_valid_card(card)
    assert verbs(card) == ["report.declare", "report.dismiss"] and "Open ticket" not in text_of(card)


def test_a_refused_declaration_shows_the_error_and_keeps_what_was_typed():
    form = {"title": "", "description": "edited", "impact": "low", "urgency": "high", "service": "", "client": ""}
    card = reported_issue_card(ReportView(REPORT, "P1", notice="title is required", is_error=True, form=form), CONFIG)
    assert_valid_card(card)
    assert "title is required" in text_of(card) and '"attention"' in text_of(card)
    values = {block["id"]: block.get("value") for block in card["actions"][0]["card"]["body"]}
    assert values["description"] == "edited" and values["impact"] == "low"


@pytest.mark.parametrize(("status", "said"), [
    ("declared", "Declared as INC-9 by Bob Singh"),
    ("merged", "Merged into INC-9 by Bob Singh"),
    ("dismissed", "Dismissed by Bob Singh: duplicate of #4700"),
])
def test_a_decided_report_says_what_was_decided_and_offers_no_more_choices(status: str, said: str):
    decided = replace(REPORT, status=status, incident_id=9 if status != "dismissed" else None, decided_by=BOB,
                      decided_at=T0, reason="duplicate of #4700" if status == "dismissed" else "")
    card = reported_issue_card(ReportView(decided, "P1", [(3, "INC-3")]), CONFIG)
    assert_valid_card(card)
    assert said in text_of(card) and verbs(card) == []


def incident(status: Status = Status.INVESTIGATING) -> Incident:
    declared = Incident.declare(title="Payments API 5xx rate", description="", impact=Level.HIGH,
                                urgency=Level.HIGH, priority="P1", service="payments-api", client="",
                                declared_by=Person("beacon", "Beacon"), commander=None, source="azure-monitor",
                                now=T0)
    declared.id, declared.status = 1, status
    return declared


ALERTS = tuple(AlertLine("alertmanager", f"Rule{i}", "payments-api", "firing" if i % 2 else "resolved", 50 - i,
                         i == 0, "") for i in range(6))
TICKETS = (TicketLine(12, "https://acme.freshdesk.com/a/tickets/12", "created", "linked", ""),
           TicketLine(4711, "https://acme.freshdesk.com/a/tickets/4711", "merged", "linked", ""))


def test_the_incident_card_shows_origin_counts_tickets_and_their_links():
    extras = incident_extras(IntakeSummary(ALERTS, TICKETS), is_open=True)
    facts = dict(extras.facts)
    assert facts["Origin"] == "from Alertmanager: Rule0"
    assert facts["Alert Rule0"] == "resolved · fired ×50 · payments-api"
    assert facts["More alerts"] == "2 more (1 firing)"
    assert facts["Freshdesk"] == "#12, #4711 (merged)"
    assert extras.links == (("Freshdesk #12", TICKETS[0].url), ("Freshdesk #4711", TICKETS[1].url))
    assert extras.notices == ("Reported by 1 customer (Freshdesk)",)  # the merged report; not Beacon's ticket
    card = incident_card(IncidentView(incident(), extras=extras))
    assert_valid_card(card)
    assert "fired ×50" in text_of(card) and TICKETS[0].url in text_of(card)


def test_a_ticket_on_its_way_is_shown_to_responders():
    extras = incident_extras(IntakeSummary((), (TicketLine(None, "", "created", "creating", ""),)), is_open=True)
    assert dict(extras.facts)["Freshdesk"] == "creating the ticket…" and extras.problems == ()


@pytest.mark.parametrize(("ticket", "problem"), [
    (TicketLine(None, "", "created", "not_sent", "Freshdesk not configured"), "Freshdesk is not configured"),
    (TicketLine(None, "", "created", "failed", "Freshdesk refused to create a ticket"),
     "Freshdesk did not create a ticket: Freshdesk refused"),
])
def test_a_missing_ticket_is_a_problem_for_admins_not_responders(ticket: TicketLine, problem: str):
    extras = incident_extras(IntakeSummary((), (ticket,)), is_open=True)
    assert "Freshdesk" not in dict(extras.facts)
    assert len(extras.problems) == 1 and extras.problems[0].startswith(problem) and "Fix:" in extras.problems[0]
    responder = text_of(incident_card(IncidentView(incident(), extras=extras)))
    admin = text_of(incident_card(IncidentView(incident(), extras=extras, viewer_is_admin=True)))
    assert "Freshdesk" not in responder and "ticket" not in responder
    assert problem in admin and "doctor" in admin


def test_resolving_is_suggested_only_while_open_and_once_every_alert_resolved():
    resolved = tuple(replace(a, status="resolved") for a in ALERTS)
    assert incident_extras(IntakeSummary(resolved), is_open=True).notices == (ALL_RESOLVED,)
    assert incident_extras(IntakeSummary(resolved), is_open=False).notices == ()
    assert incident_extras(IntakeSummary(ALERTS), is_open=True).notices == ()
    assert incident_extras(IntakeSummary(), is_open=True) == incident_extras(IntakeSummary(), is_open=False)
    card = incident_card(IncidentView(incident(Status.MONITORING),
                                      extras=incident_extras(IntakeSummary(resolved), is_open=True)))
    assert_valid_card(card)
    assert ALL_RESOLVED in text_of(card)
