"""Every bridge card is valid Adaptive Card 1.5 and tells a responder what to do next."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cards import bridge as cards
from services.bridge.model import Bridge, BridgeCall, BridgeState, Group, Invitee
from services.bridge.usecases import BridgeSetup, BridgeSituation
from services.graph.errors import ACCESS_POLICY_FIX
from services.incidents import Incident, Level, Person
from services.ports import CallTarget, Meeting, Recipient
from services.verbs import Verb
from tests.cardschema import assert_valid_card
from tests.cardtext import shown

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ALICE = Person("aad-alice", "Alice")
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0"
MEETING = Meeting("AAMk1", JOIN_URL, dial_in="+1 555 0100,,123456789#", conference_id="123456789")
PLAN = [Invitee("mail:casey@contoso.example", Group.CLIENT, "Casey", "casey@contoso.example", note="Contoso"),
        Invitee("mail:ms@ms.example", Group.HOSTING, "Microsoft Support", "ms@ms.example"),
        Invitee("mail:noc@acme.example", Group.VENDOR, "Acme NOC", "noc@acme.example", ticked=False),
        Invitee("aad:aad-bob", Group.RESPONDERS, "Bob", aad_object_id="aad-bob", note="responder")]
READY = BridgeSetup(public_url="https://beacon.contoso.com")


def incident() -> Incident:
    found = Incident.declare(title="Payments <at>down</at>", description="", impact=Level.HIGH, urgency=Level.HIGH,
                             priority="P1", service="payments-api", client="Contoso", declared_by=ALICE,
                             commander=ALICE, source="chat", now=T0)
    found.id = 7
    return found


def bridge(state: BridgeState = BridgeState.CREATED) -> Bridge:
    created = state is BridgeState.CREATED
    return Bridge(7, state, 1, ALICE, T0, invitees=tuple(PLAN[:2]), meeting=MEETING if created else None,
                  invited=(Recipient("casey@contoso.example", "Casey"),) if created else (),
                  created_at=T0 if created else None)


def situation(found: Bridge | None = None, **values: Any) -> BridgeSituation:
    return BridgeSituation(incident(), found, PLAN, [CallTarget("aad-bob", "Bob")], **values)


def text_of(card: dict[str, Any]) -> str:
    assert_valid_card(card)
    return json.dumps(card, ensure_ascii=False)


def test_the_picker_ticks_the_sensible_people_and_lets_addresses_be_typed():
    card = cards.picker_card(situation(), READY)
    text = text_of(card)
    assert "Start a bridge for INC-7" in text and "<at>" not in text
    client = next(b for b in card["body"] if b.get("id") == "invite_client")
    assert client["isMultiSelect"] and client["value"] == "mail:casey@contoso.example"
    vendors = next(b for b in card["body"] if b.get("id") == "invite_vendor")
    assert "value" not in vendors  # other vendors are offered, not ticked
    assert any(b.get("id") == "invite_extra" for b in card["body"])
    assert [a["verb"] for a in card["actions"]] == [Verb.BRIDGE_START.value, Verb.REFRESH.value]


def test_the_picker_warns_when_graph_is_missing_and_keeps_what_was_typed_after_an_error():
    setup = BridgeSetup(conferencing_problem="GRAPH_ORGANIZER_USER_ID is empty")
    card = cards.picker_card(situation(), setup, form={"invite_extra": "x@"}, error="not an email")
    text = text_of(card)
    assert "Microsoft Graph is not configured" in shown(card) and "GRAPH_ORGANIZER_USER_ID is empty" in shown(card)
    assert "not an email" in text and '"value": "x@"' in text


def test_the_bridge_card_joins_invites_and_rings():
    card = cards.bridge_card(situation(bridge(), call=None), READY, notice="Ringing Bob.")
    text = text_of(card)
    assert {"type": "Action.OpenUrl", "title": "Join bridge", "url": JOIN_URL} in card["actions"]
    assert "+1 555 0100,,123456789#" in text and "Ringing Bob." in text
    assert "cannot be rung" in text and Verb.BRIDGE_RING.value in text and Verb.BRIDGE_INVITE.value in text
    invite = next(a for a in card["actions"] if a["title"] == "Invite more")
    assert "Casey" not in json.dumps(invite)  # already invited


def test_ringing_explains_what_it_needs_when_it_cannot():
    no_url = text_of(cards.bridge_card(situation(bridge()), BridgeSetup()))
    assert "needs BEACON_PUBLIC_URL" in no_url and Verb.BRIDGE_RING.value not in no_url
    no_calling = text_of(cards.bridge_card(situation(bridge()), BridgeSetup(calling_problem="MicrosoftAppId is empty",
                                                                            public_url="https://b.example")))
    assert "MicrosoftAppId is empty" in no_calling


def test_a_bridge_being_created_and_no_bridge_yet():
    assert "Creating the bridge" in text_of(cards.bridge_card(situation(bridge(BridgeState.REQUESTED)), READY))
    assert "No bridge yet" in text_of(cards.bridge_card(situation(None), READY, error="a call is already established"))


def test_thread_cards_join_fail_with_the_fix_or_say_how_to_configure():
    join = cards.join_card(incident(), bridge())
    assert JOIN_URL in text_of(join) and join["actions"][0]["type"] == "Action.OpenUrl"
    error = ("Graph create online meeting for o@x failed: 403 Unauthorized: App a is not authorized to Create "
             f"meeting on behalf of user u — {ACCESS_POLICY_FIX}")
    failure = text_of(cards.failure_card(incident(), "create", error))
    assert "infra/graph-permissions.md#application-access-policy" in failure and "**Fix:** grant" in failure
    assert "Start bridge" in failure and "unaffected" in failure
    assert "calling-bot-registration" in text_of(cards.failure_card(incident(), "ring", "403 7505: mismatch"))
    assert "GRAPH_ORGANIZER_USER_ID" in text_of(cards.not_configured_card(incident(), "no Graph credentials"))


def test_the_incident_card_shows_the_bridge():
    assert cards.incident_extras(None, None).buttons == (("Start bridge", Verb.BRIDGE_FORM),)
    call = BridgeCall("c1", 7, "established", (), (("b", "Bob"),), T0, T0)
    created = cards.incident_extras(bridge(), call)
    assert created.links == (("Join bridge", JOIN_URL),)
    assert ("Call", "established, 1 in the call") in created.facts
    failed = cards.incident_extras(bridge(BridgeState.FAILED), None)
    assert failed.buttons == (("Start bridge", Verb.BRIDGE_FORM),) and "could not be created" in failed.facts[0][1]


def test_without_graph_responders_are_offered_no_bridge_and_admins_are_told_the_fix():
    for found in (None, bridge(BridgeState.NOT_CONFIGURED)):
        extras = cards.incident_extras(found, None, "GRAPH_ACCESS_TOKEN is empty")
        assert extras.buttons == () and extras.facts == () and extras.links == ()
        assert "GRAPH_ACCESS_TOKEN is empty" in extras.problems[0] and "Fix:" in extras.problems[0]
