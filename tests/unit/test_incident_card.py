"""The incident card as a responder at 03:00 reads it: how bad, where it stands, how long, who is on
it, what was said last, and one button for what to do next. Each card is valid Adaptive Card 1.5."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cards.bridge import incident_extras as bridge_extras
from cards.budget import MAX_CARD_BYTES, wire_size
from cards.incident import IncidentView, LatestUpdate, ViewExtras, incident_card
from services.incidents import Incident, Level, Person, Status
from tests.cardschema import assert_valid_card
from tests.cardtext import markdown_texts, unescape

T0 = datetime(2026, 3, 1, 2, 51, tzinfo=UTC)
ALICE = Person("aad-alice", "Alice", "29:alice")
ADA = Person("aad-ada", "Ada Lovelace", "29:ada")
BOB = Person("aad-bob", "Bob", "29:bob")


def incident(status: Status = Status.INVESTIGATING, **overrides: Any) -> Incident:
    found = Incident.declare(title="Payments API down", description="Card payments fail", impact=Level.HIGH,
                             urgency=Level.HIGH, priority="P1", service="payments-api", client="",
                             declared_by=BOB, commander=None, source="chat", now=T0)
    found.id, found.version, found.status = 3, 5, status
    for key, value in overrides.items():
        setattr(found, key, value)
    return found


def acked(**overrides: Any) -> Incident:
    return incident(acknowledged_at=T0 + timedelta(minutes=13), acknowledged_by=ADA, acknowledged_via="sms_link",
                    **overrides)


def actions(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            found.append(node)
        for value in node.values():
            found += actions(value)
    elif isinstance(node, list):
        for value in node:
            found += actions(value)
    return found


def primary_row(card: dict[str, Any]) -> list[str]:
    """The titles of the first row of buttons on the card, as a reader sees it."""
    row = next(b for b in card["body"] if b["type"] == "ActionSet")
    return [a["title"] for a in row["actions"]]


def shown(card: dict[str, Any]) -> str:
    return "\n".join(unescape(t) for t in markdown_texts(card))


def card_of(found: Incident, **view: Any) -> dict[str, Any]:
    card = incident_card(IncidentView(found, now=view.pop("now", T0 + timedelta(hours=1, minutes=12)), **view))
    assert_valid_card(card)
    return card


def test_the_severity_badge_comes_first_and_is_the_largest_text():
    card = card_of(acked())
    texts = [t for t in _blocks(card) if t.get("type") == "TextBlock"]
    assert texts[0]["text"] == "P1" and texts[0]["size"] == "ExtraLarge"
    assert all(t.get("size") != "ExtraLarge" for t in texts[1:])
    assert "INC-3 · **Investigating**" in texts[1]["text"]


def test_how_long_the_impact_has_lasted_counts_from_when_it_started():
    since_declared = shown(card_of(acked()))
    assert "Impact for **1 h 12 min** (declared {{TIME(2026-03-01T02:51:00Z)}}" in since_declared
    earlier = shown(card_of(acked(impact_started_at=T0 - timedelta(minutes=40))))
    assert "Impact for **1 h 52 min** (impact since {{TIME(2026-03-01T02:11:00Z)}}" in earlier
    resolved = acked(status=Status.RESOLVED, resolved_at=T0 + timedelta(hours=2, minutes=5),
                     resolution_summary="rolled back")
    assert "Impact lasted **2 h 05 min**" in shown(card_of(resolved, now=T0 + timedelta(hours=3)))


def test_who_acknowledged_how_and_when_and_the_latest_update_are_read_at_a_glance():
    update = LatestUpdate(T0 + timedelta(minutes=30), "Rolled back release 412; errors falling", "Ada Lovelace",
                          "responders")
    text = shown(card_of(acked(commander=ALICE), latest_update=update))
    assert "Acknowledged\nby Ada Lovelace (SMS link) {{TIME(2026-03-01T03:04:00Z)}}" in text
    assert "{{TIME(2026-03-01T03:21:00Z)}} Ada Lovelace: Rolled back release 412; errors falling" in text
    assert "Commander\n<at>Alice</at>" in text
    nobody = shown(card_of(incident()))
    assert "Acknowledged\n**not yet**" in nobody and "Commander\n**nobody yet**" in nobody
    assert "Latest update\nnone yet" in nobody


def test_one_timestamp_style_in_the_readers_time_zone():
    long_ago = acked(commander=ALICE, next_update_due=T0 + timedelta(days=2))
    raw = json.dumps(card_of(long_ago, now=T0 + timedelta(days=2)))
    stamps = set(_stamps(raw))
    assert stamps and all(s.startswith(("{{TIME(", "{{DATE(")) for s in stamps)
    assert "SHORT)" not in raw and "LONG)" not in raw
    assert "{{DATE(2026-03-01T02:51:00Z, COMPACT)}} {{TIME(2026-03-01T02:51:00Z)}}" in raw  # two days ago
    assert "{{TIME(2026-03-03T02:51:00Z)}}" in raw  # today: the time alone


@pytest.mark.parametrize(("found", "primary"), [
    (incident(), "Acknowledge"),
    (acked(), "Take command"),
    (acked(commander=ALICE), "Post update"),
    (acked(commander=ALICE, status=Status.VERIFYING), "Resolve"),
    (acked(commander=ALICE, status=Status.RESOLVED, resolved_at=T0 + timedelta(hours=1),
           resolution_summary="x"), "Close"),
])
def test_one_primary_button_fits_where_the_incident_stands_and_the_rest_is_under_more(found, primary):
    card = card_of(found)
    assert primary_row(card) == [primary, "More…"]
    more = next(a for a in actions(card) if a["title"] == "More…")
    under_more = [a["title"] for row in more["card"]["body"] for a in row["actions"]]
    assert primary not in under_more and under_more  # not offered twice; the rest is there


def test_the_commander_is_never_offered_take_command():
    found = acked(commander=ALICE)
    everyone = [a["title"] for a in actions(card_of(found))]
    alices = [a["title"] for a in actions(card_of(found, viewer=ALICE))]
    bobs = [a["title"] for a in actions(card_of(found, viewer=BOB))]
    assert "Take command" in everyone and "Take command" in bobs
    assert "Take command" not in alices


def test_the_card_everyone_sees_asks_teams_to_refresh_it_for_the_commander():
    card = card_of(acked(commander=ALICE), refresh_for=("29:alice",))
    assert card["refresh"] == {"action": {"type": "Action.Execute", "verb": "incident.refresh",
                                          "data": {"incidentId": 3}}, "userIds": ["29:alice"]}


def test_secondary_facts_are_under_details_hidden_until_asked():
    card = card_of(acked(commander=ALICE, responders=(ADA, BOB)))
    hidden = next(b for b in card["body"] if b.get("id") == "incident-details")
    assert hidden["isVisible"] is False
    assert "High × High" in json.dumps(hidden, ensure_ascii=False) and "payments-api" in json.dumps(hidden)
    toggle = next(a for a in actions(card) if a["type"] == "Action.ToggleVisibility")
    assert toggle["targetElements"] == ["incident-details"]
    above = json.dumps(card["body"][:card["body"].index(hidden)], ensure_ascii=False)
    assert "High × High" not in above


def test_an_integration_that_is_not_set_up_says_nothing_to_responders():
    problem = "GRAPH_ACCESS_TOKEN or AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET are not set"
    extras = bridge_extras(None, None, problem)
    responder = json.dumps(card_of(acked(), extras=extras))
    assert "Graph" not in responder and "bridge" not in responder.lower() and "GRAPH_" not in responder
    admin = shown(card_of(acked(), extras=extras, viewer=ALICE, viewer_is_admin=True))
    assert "only incident admins see this" in admin and "GRAPH_ACCESS_TOKEN" in admin and "Fix:" in admin


def test_the_card_stays_under_teams_size_limit_with_long_non_latin_text():
    many = tuple(Person(f"aad-{i}", "Ярослава Очень-Длинная-Фамилия 🚨" * 3, f"29:{i}") for i in range(25))
    found = acked(commander=ALICE, responders=many, description="支付服务中断 🚨" * 500,
                  title="決済 API ダウン 🚨" * 15, resolution_summary="")
    update = LatestUpdate(T0, "Откатили релиз 🚨" * 300, "Ярослава", "stakeholders")
    facts = tuple((f"Факт {i} 🚨", "значение 🚨" * 40) for i in range(40))
    card = card_of(found, latest_update=update, extras=ViewExtras(facts=facts))
    assert wire_size(card) <= MAX_CARD_BYTES
    assert primary_row(card) == ["Post update", "More…"]
    assert card["body"][0]["items"][0]["columns"][0]["items"][0]["text"] == "P1"


def _blocks(node: Any) -> list[dict[str, Any]]:
    """Every element in reading order (depth first), without what opens under a button."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") not in ("ActionSet",):
            found.append(node)
            for key in ("body", "items", "columns"):
                found += _blocks(node.get(key, []))
    elif isinstance(node, list):
        for value in node:
            found += _blocks(value)
    return found


def _stamps(raw: str) -> list[str]:
    import re

    return re.findall(r"\{\{[A-Z]+\([^}]*\)\}\}", raw)
