"""Text from outside is inert on every card: a hostile corpus through every card builder.

People, alerts, tickets and Graph write titles, names, notes, rule names and error texts. Teams
renders Markdown in TextBlocks and FactSets, so `[sign in here](https://evil.example/login)` in a
title would be a live link. Every builder passes such text through cards.elements.plain; this
feeds one hostile string into every field of every card and reads the result as Teams would.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import cards
import cards.bridge
import cards.client_summary
import cards.forms
import cards.incident
import cards.incident_forms
import cards.intake
import cards.messages
import cards.oncall
import cards.paging
import cards.report_form
import cards.review
import cards.updates
from cards.elements import Json, plain
from cards.forms import DeclareForm
from cards.incident import IncidentView
from cards.incident_parts import LatestUpdate
from cards.intake import ReportView
from cards.report_form import ReportFormView
from services.bridge.model import Bridge, BridgeCall, BridgeState, Group, Invitee
from services.bridge.usecases import BridgeSetup, BridgeSituation
from services.comms.messages import Message
from services.config import parse_config
from services.incidents import Incident, Level, Person, Status
from services.intake.reports import Report
from services.intake.summary import AlertLine, IntakeSummary, TicketLine
from services.paging.oncall_view import OverrideLine, ScheduleView
from services.ports import CallTarget, Meeting, Recipient
from services.review.form import ActionDraft, ReportDraft
from services.verbs import Verb
from tests.cardschema import assert_valid_card
from tests.cardtext import live_hostile_markdown, markdown_texts, plain_texts, unescape

LINK = "[sign in here](https://evil.example/login)"
HOSTILE = (f"Checkout down {LINK} ![pixel](https://evil.example/p.png) **LOUD** _shy_ `code` ~~gone~~ "
           "<at>Mallory</at> {{TIME(1999-01-01T00:00:00Z)}} back\\slash")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVE = Person("aad-eve", HOSTILE, "29:eve")
CONFIG = parse_config({"services": [{"name": "payments-api"}], "directory": {"clients": [{"name": "Contoso"}]}})


def hostile_incident(status: Status = Status.INVESTIGATING) -> Incident:
    incident = Incident.declare(title=HOSTILE, description=HOSTILE, impact=Level.HIGH, urgency=Level.HIGH,
                                priority="P1", service=HOSTILE, client=HOSTILE, declared_by=EVE, commander=EVE,
                                source="chat", now=T0)
    incident.id, incident.version, incident.status = 7, 3, status
    incident.responders = (EVE, Person("aad-x", HOSTILE))
    incident.acknowledged_at, incident.acknowledged_by = T0, EVE
    if status in (Status.RESOLVED, Status.CLOSED):
        incident.resolved_at, incident.resolution_summary = T0 + timedelta(hours=1), HOSTILE
    return incident


INTAKE = IntakeSummary(
    alerts=(AlertLine("alertmanager", HOSTILE, HOSTILE, "firing", 3, True, "https://evil.example"),),
    tickets=(TicketLine(None, "", "created", "failed", HOSTILE), TicketLine(12, "https://x.freshdesk.com/a/12",
                                                                             "reported", "linked", "")))
MEETING = Meeting("m1", "https://teams.microsoft.com/l/meetup-join/x", dial_in=HOSTILE, conference_id=HOSTILE,
                  passcode=HOSTILE)
INVITEES = (Invitee("mail:a@b.example", Group.CLIENT, HOSTILE, "a@b.example", note=HOSTILE),
            Invitee("aad:aad-eve", Group.RESPONDERS, HOSTILE, aad_object_id="aad-eve", note=HOSTILE))
BRIDGE = Bridge(7, BridgeState.CREATED, 1, EVE, T0, invitees=INVITEES, meeting=MEETING,
                invited=(Recipient("a@b.example", HOSTILE),), created_at=T0)
CALL = BridgeCall("c1", 7, HOSTILE, (CallTarget("aad-eve", HOSTILE),), (("aad-eve", HOSTILE),), T0, T0)
SETUP = BridgeSetup(public_url="https://beacon.example")


def situation(bridge: Bridge | None) -> BridgeSituation:
    return BridgeSituation(hostile_incident(), bridge, list(INVITEES), [CallTarget("aad-eve", HOSTILE)], CALL)


REPORT = Report(4711, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, (HOSTILE,), "https://x.freshdesk.com/a/4711",
                Level.HIGH, Level.HIGH, HOSTILE, HOSTILE, (HOSTILE,), "new", None, None, None, "", T0)
DISMISSED = replace(REPORT, status="dismissed", decided_by=EVE, decided_at=T0, reason=HOSTILE)
PAYLOAD = {"audience": "stakeholders", "text": HOSTILE, "author": HOSTILE, "owner_name": HOSTILE,
           "owner_id": "29:eve", "sequence": 2, "version": 3}


def incident_view(status: Status, **values: Any) -> Json:
    extras = (cards.intake.incident_extras(INTAKE, is_open=True)
              + cards.bridge.incident_extras(BRIDGE, CALL))
    return cards.incident.incident_card(IncidentView(hostile_incident(status), extras=extras, **values))


# A schedule and its people come from the config and from iCalendar feeds (another tool's export).
SCHEDULE = ScheduleView(HOSTILE, "Europe/London", HOSTILE, "ical", T0, HOSTILE, T0 + timedelta(days=1),
                        (OverrideLine(1, HOSTILE, T0, T0 + timedelta(hours=8), HOSTILE),))
SUMMARY = cards.client_summary.ClientSummaryView(
    "INC-7", HOSTILE, 7, HOSTILE, HOSTILE, "29:eve", {"happened": HOSTILE, "impact_window": HOSTILE},
    [("a@b.example", HOSTILE)], 2, notice=HOSTILE, problems={"impact_window": HOSTILE})


# Every card Beacon builds, with outside text in every field it shows. The keys name the builder.
def hostile_message(audience: str, kind: str) -> Message:
    """Every field people, alerts or the directory wrote is hostile."""
    return Message(audience, kind, "INC-7", HOSTILE, HOSTILE, HOSTILE, "P1", "fixing", T0,
                   T0 + timedelta(hours=1) if kind == "resolution" else None, HOSTILE,
                   None if kind == "resolution" else T0 + timedelta(hours=2), HOSTILE, HOSTILE, False, 3)


CORPUS: dict[str, Callable[[], Json]] = {
    "message_card": lambda: cards.updates.message_card(hostile_message("stakeholders", "update")),
    "message_card/clients": lambda: cards.updates.message_card(hostile_message("clients", "initial")),
    "message_card/responders": lambda: cards.updates.message_card(hostile_message("responders", "resolution")),
    "_message_card": lambda: cards.updates._message_card(hostile_message("stakeholders", "update")),
    "incident_card": lambda: incident_view(Status.INVESTIGATING, notice=HOSTILE, notice_lines=(HOSTILE,)),
    "incident_card/resolved": lambda: incident_view(Status.RESOLVED),
    "incident_card/latest-update": lambda: incident_view(
        Status.MONITORING, latest_update=LatestUpdate(T0, HOSTILE, HOSTILE, "stakeholders"),
        people={"aad-eve": Person("aad-eve", HOSTILE, "29:eve"), "aad-x": Person("aad-x", HOSTILE)}),
    "incident_list_card": lambda: cards.messages.incident_list_card(
        [cards.messages.ListedIncident(hostile_incident(), HOSTILE, "https://teams.example/t", T0, HOSTILE)], T0),
    "declared_card": lambda: cards.messages.declared_card(HOSTILE),
    "error_card": lambda: cards.messages.error_card(HOSTILE),
    "notice_card": lambda: cards.messages.notice_card(HOSTILE),
    "help_card": lambda: cards.messages.help_card(HOSTILE),
    "welcome_card": lambda: cards.messages.welcome_card(),
    "declare_form": lambda: cards.forms.declare_form(
        DeclareForm(title=HOSTILE, description=HOSTILE, service=HOSTILE, error=HOSTILE), parse_config({}),
        dialog=True),
    "declare_form/similar": lambda: cards.forms.declare_form(
        DeclareForm(title=HOSTILE, similar=cards.forms.SimilarOffer(3, "INC-3", HOSTILE, HOSTILE, HOSTILE, "2 min")),
        parse_config({}), dialog=False),
    "reminder_card": lambda: cards.updates.reminder_card("INC-7", 7, PAYLOAD, T0),
    "status_update_card": lambda: cards.updates.status_update_card("INC-7", PAYLOAD, (HOSTILE, "29:eve"), T0),
    "status_update_card/automatic": lambda: cards.updates.status_update_card(
        "INC-7", {**PAYLOAD, "automatic": True}, (HOSTILE, "29:eve"), T0),
    "updates.notice_card": lambda: cards.updates.notice_card(HOSTILE, HOSTILE),
    "picker_card": lambda: cards.bridge.picker_card(situation(None), BridgeSetup(conferencing_problem=HOSTILE),
                                                    form={"invite_extra": HOSTILE}, error=HOSTILE),
    "bridge_card": lambda: cards.bridge.bridge_card(situation(BRIDGE), SETUP, notice=HOSTILE),
    "bridge_card/no-calling": lambda: cards.bridge.bridge_card(situation(BRIDGE),
                                                               BridgeSetup(calling_problem=HOSTILE), error=HOSTILE),
    "join_card": lambda: cards.bridge.join_card(hostile_incident(), BRIDGE),
    "failure_card": lambda: cards.bridge.failure_card(hostile_incident(), "create", f"{HOSTILE} — fix: {HOSTILE}"),
    "not_configured_card": lambda: cards.bridge.not_configured_card(hostile_incident(), HOSTILE),
    "reported_issue_card": lambda: cards.intake.reported_issue_card(
        ReportView(REPORT, "P1", [(3, HOSTILE)], notice=HOSTILE), CONFIG),
    "reported_issue_card/decided": lambda: cards.intake.reported_issue_card(ReportView(DISMISSED, "P1"), CONFIG),
    "report_request_card": lambda: cards.review.report_request_card(
        "INC-7", 7, HOSTILE, "29:eve", HOSTILE, title=HOSTILE),
    "report_form": lambda: cards.report_form.report_form(ReportFormView(
        "INC-7", HOSTILE, 7, ReportDraft(HOSTILE, HOSTILE, HOSTILE, (ActionDraft(HOSTILE, "aad-eve", "2026-03-02"),)),
        {"root_cause": HOSTILE}, [(HOSTILE, "aad-eve")]), dialog=False),
    "incident_form": lambda: cards.incident_forms.incident_form(cards.incident_forms.IncidentFormView(
        Verb.NOTE, hostile_incident(), {"note": HOSTILE}, {"note": HOSTILE})),
    "incident_form/assign": lambda: cards.incident_forms.incident_form(cards.incident_forms.IncidentFormView(
        Verb.ASSIGN, hostile_incident(), {"responders": "aad-eve"}, error=HOSTILE, people=[(HOSTILE, "aad-eve")])),
    "report_summary_card": lambda: cards.review.report_summary_card("INC-7", HOSTILE, 7, "https://b.example/r",
                                                                    notice=HOSTILE),
    "action_reminder_card": lambda: cards.review.action_reminder_card("INC-7", 1, HOSTILE, HOSTILE, "29:eve", T0,
                                                                      True),
    "actions_card": lambda: cards.review.actions_card([(1, "INC-7", HOSTILE, HOSTILE, T0, True)], HOSTILE),
    "metrics_card": lambda: cards.review.metrics_card("iVBORw0KGgo=", [("P1", "12 min")]),
    "drill_report_card": lambda: cards.review.drill_report_card("DRILL INC-7", HOSTILE, [("Took", "5 min")],
                                                                "https://b.example/r"),
    "oncall_card": lambda: cards.oncall.oncall_card(cards.oncall.OncallCardView([SCHEDULE], "America/New_York",
                                                                                notice=HOSTILE, problem=True)),
    "override_form": lambda: cards.oncall.override_form(cards.oncall.OverrideFormView(
        [(HOSTILE, "Europe/London")], [(HOSTILE, "eve")], {"until": HOSTILE}, {"until": HOSTILE}), dialog=True),
    "page_card": lambda: cards.paging.page_card(hostile_incident(), 1, 2),
    "page_card/by-hand": lambda: cards.paging.page_card(hostile_incident(), 0, 1, note=HOSTILE),
    "client_summary_card": lambda: cards.client_summary.client_summary_card(SUMMARY),
    "client_summary_card/sent": lambda: cards.client_summary.client_summary_card(
        replace(SUMMARY, sent_by=HOSTILE, sent_at=T0)),
    "client_summary_form": lambda: cards.client_summary.client_summary_form(SUMMARY),
    "client_summary_preview": lambda: cards.client_summary.client_summary_preview(SUMMARY),
}
WITHOUT_OUTSIDE_TEXT = {"welcome_card", "metrics_card"}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_outside_text_is_inert_on_every_card(name: str) -> None:
    card = CORPUS[name]()
    assert_valid_card(card)
    markdown = markdown_texts(card)
    if name not in WITHOUT_OUTSIDE_TEXT:
        assert any("sign in here" in t for t in markdown), "the card shows none of the text"
    for text in markdown:
        assert not live_hostile_markdown(text), (name, text)
        if "sign in here" in text and "sign in here" in unescape(text):
            # Escaped once, not twice: the reader sees the characters that were typed.
            assert LINK in unescape(text) or "…" in text, (name, text)
    for text in markdown + plain_texts(card):
        assert "<at>Mallory" not in text, (name, text)  # no forged mention
        assert "{{TIME(1999" not in text, (name, text)  # no card date function from outside


def test_the_corpus_covers_every_card_builder() -> None:
    """Every `*_card`, `*_form` and `*_preview` of every module in cards/ (a new module too), except
    the primitives of cards.elements, which every one of them is built from."""
    modules = [importlib.import_module(f"cards.{info.name}") for info in pkgutil.iter_modules(cards.__path__)
               if info.name != "elements"]
    builders = {name for module in modules for name, value in vars(module).items()
                if inspect.isfunction(value) and value.__module__ == module.__name__
                and (name.endswith(("_card", "_form", "_preview")))}
    covered = {key.split("/")[0].split(".")[-1] for key in CORPUS}
    assert builders <= covered, f"add these to CORPUS: {sorted(builders - covered)}"


def test_a_live_link_is_caught_by_this_test() -> None:
    """The checker itself: an unescaped title would fail the corpus test."""
    assert len(live_hostile_markdown(HOSTILE)) == 6
    assert live_hostile_markdown(plain(HOSTILE)) == []
    assert unescape(plain(HOSTILE)) == HOSTILE.replace("<at>", "").replace("</at>", "").replace("{{", "{ {").replace(
        "}}", "} }")
