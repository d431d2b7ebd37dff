"""Who a bridge invites and rings, from the directory: pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.bridge.model import Bridge, BridgeState, Group, Invitee, call_key
from services.bridge.plan import (
    EXTRA_INPUT,
    INPUT_IDS,
    MAX_RING,
    chosen_invitees,
    chosen_ring_targets,
    external_id,
    invitee_plan,
    meeting_request,
    parse_extra_emails,
    ring_candidates,
)
from services.bridge.usecases import BridgeSetup
from services.config import parse_config
from services.incidents import Incident, Level, Person, ValidationFailed
from services.ports import CallTarget, Recipient

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ALICE = Person("aad-alice", "Alice")
BOB = Person("aad-bob", "Bob")
CAROL = Person("aad-carol", "")  # picked in Teams, name not learned yet
CONFIG = parse_config({
    "services": [{"name": "payments-api", "team": "payments"}],
    "directory": {
        "teams": [{"name": "payments", "email": "payments@ourco.example", "members": [
            {"name": "Bob", "aad_object_id": "aad-bob", "email": "bob@ourco.example"},
            {"name": "Dana", "aad_object_id": "aad-dana"}]}],
        "clients": [{"name": "Contoso", "account_owner": {"name": "Avery", "email": "avery@ourco.example"},
                     "contacts": [{"name": "Casey", "email": "casey@contoso.example"},
                                  {"name": "No Address"}]}],
        "vendors": [{"name": "Microsoft", "kind": "hosting", "contacts": [{"name": "MS", "email": "ms@ms.example"}]},
                    {"name": "Acme", "contacts": [{"name": "Acme NOC", "email": "noc@acme.example"}]}],
    },
})


def incident(client: str = "", responders: tuple[Person, ...] = (BOB, CAROL)) -> Incident:
    found = Incident.declare(title="Payments down", description="", impact=Level.HIGH, urgency=Level.HIGH,
                             priority="P1", service="payments-api", client=client, declared_by=ALICE,
                             commander=ALICE, source="chat", now=T0)
    found.id, found.responders = 7, responders
    return found


def keys(plan: list[Invitee], *, ticked: bool | None = None) -> list[str]:
    return [i.key for i in plan if ticked is None or i.ticked is ticked]


def test_a_customer_incident_lists_the_client_microsoft_vendors_team_and_responders():
    plan = invitee_plan(incident("Contoso"), CONFIG, {"aad-carol": Person("aad-carol", "Carol")})
    assert [(i.group, i.label) for i in plan] == [
        (Group.CLIENT, "Casey"), (Group.CLIENT, "Avery"), (Group.HOSTING, "MS"), (Group.VENDOR, "Acme NOC"),
        (Group.TEAM, "payments team"), (Group.TEAM, "Bob"), (Group.TEAM, "Dana"),
        (Group.RESPONDERS, "Alice"), (Group.RESPONDERS, "Carol")]  # Bob once, as a team member
    assert keys(plan, ticked=False) == ["mail:noc@acme.example"]  # other vendors: one tick away
    assert plan[-1].key == "aad:aad-carol" and plan[-1].email == ""  # address looked up when sending


def test_an_internal_incident_has_no_client_contacts():
    groups = {i.group for i in invitee_plan(incident(), CONFIG)}
    assert Group.CLIENT not in groups and Group.HOSTING in groups


def test_the_submitted_ticks_and_typed_addresses_become_the_invitees():
    plan = invitee_plan(incident("Contoso"), CONFIG)
    form = {INPUT_IDS[Group.CLIENT]: "mail:casey@contoso.example", INPUT_IDS[Group.HOSTING]: "mail:ms@ms.example",
            INPUT_IDS[Group.VENDOR]: "mail:forged@evil.example",  # not on the card: ignored
            EXTRA_INPUT: "ops@contoso.example;\nCASEY@contoso.example, late@x.example"}
    chosen = chosen_invitees(plan, form)
    assert [i.key for i in chosen] == ["mail:casey@contoso.example", "mail:ms@ms.example",
                                       "mail:ops@contoso.example", "mail:late@x.example"]


@pytest.mark.parametrize("raw, message", [
    ("ops@contoso.example, nope", "not an email address: nope"),
    ("a@b", "not an email address"),
    (", ".join(f"p{i}@x.example" for i in range(21)), "at most 20"),
])
def test_typed_addresses_are_checked(raw, message):
    with pytest.raises(ValidationFailed, match=message):
        parse_extra_emails(raw)


def test_ring_candidates_are_internal_people_without_the_clicker_and_at_most_five():
    candidates = ring_candidates(incident(), CONFIG, {}, exclude="aad-alice")
    assert [c.aad_object_id for c in candidates] == ["aad-bob", "aad-carol", "aad-dana"]
    many = [CallTarget(f"aad-{i}", f"P{i}") for i in range(MAX_RING + 1)]
    with pytest.raises(ValidationFailed, match="at most 5"):
        chosen_ring_targets(many, {"ring": ",".join(c.aad_object_id for c in many)})
    with pytest.raises(ValidationFailed, match="at least one"):
        chosen_ring_targets(candidates, {"ring": "aad-stranger"})


def test_the_meeting_request_is_idempotent_per_incident_and_lasts_two_hours():
    found = incident("Contoso")
    request = meeting_request(found, [Invitee("mail:a@x.example", Group.EXTRA, "", "a@x.example"),
                                      Invitee("aad:aad-carol", Group.RESPONDERS, "Carol")], T0)
    assert request.external_id == external_id(found) == "beacon-INC-7-20260302093000"
    assert request.attendees == (Recipient("a@x.example", ""),)  # no address, no attendee
    assert request.end - request.start == timedelta(hours=2)
    assert "INC-7 bridge: Payments down" in request.subject and "Contoso" in request.body_html


def test_a_bridge_knows_who_is_invited_and_call_ids_compare_as_graph_writes_them():
    bridge = Bridge(7, BridgeState.CREATED, 1, ALICE, T0, invited=(Recipient("Casey@contoso.example", "Casey"),))
    assert bridge.is_invited(Invitee("mail:casey@contoso.example", Group.CLIENT, "Casey", "casey@contoso.example"))
    assert BridgeState.REQUESTED.is_live and not BridgeState.FAILED.is_live
    assert call_key("57dab8b1-894c-409a-b240-bd8beae78896") == call_key("57DAB8B1894C409AB240BD8BEAE78896")


@pytest.mark.parametrize("public_url, callback", [
    ("", ""), ("https://beacon.contoso.com/", "https://beacon.contoso.com/api/calls"),
    ("beacon.contoso.com", "https://beacon.contoso.com/api/calls")])
def test_the_call_callback_is_under_the_public_url(public_url, callback):
    assert BridgeSetup(public_url=public_url).callback_uri == callback
