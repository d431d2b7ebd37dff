"""The policy table: complete, described in the README as it is, and the roles it reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.config import parse_config
from services.incidents import Incident, Level, Person
from services.policy import POLICY, BEACON, Role, Sender, Standing, Subject, decide, markdown_table, roles_of
from services.verbs import Verb

README = Path(__file__).resolve().parents[2] / "README.md"
ALICE, BOB, DAN = Person("aad-alice", "Alice"), Person("aad-bob", "Bob"), Person("aad-dan", "Dan")


def incident(commander: Person | None) -> Incident:
    found = Incident.declare(title="Checkout down", description="", impact=Level.HIGH, urgency=Level.HIGH,
                             priority="P1", service="",
                             client="", commander=commander, declared_by=BOB, source="chat",
                             now=datetime(2026, 1, 5, tzinfo=UTC))
    found.id = 7
    return found


def test_every_verb_has_a_rule_and_the_readme_lists_the_table():
    assert set(POLICY) == set(Verb)
    readme = README.read_text(encoding="utf-8")
    header = markdown_table().splitlines()[0]
    assert readme.count(header) == 1, "the README's Security section shows the policy table once"
    start = readme.index(header)
    shown = readme[start:readme.find("\n\n", start)]
    assert shown == markdown_table(), "the README's policy table differs from services/policy.py"


def test_the_commander_resolves_others_are_told_who_can():
    config = parse_config({})
    subject = Subject(incident(ALICE))
    assert decide(Verb.RESOLVE, Sender(ALICE, Standing.MEMBER), subject, config) == ""
    assert decide(Verb.RESOLVE, Sender(DAN, Standing.MEMBER), subject, config) == \
        "only the commander (Alice) or an incident admin can resolve INC-7"
    assert decide(Verb.RESOLVE, BEACON_SENDER, subject, config) == ""  # Beacon itself is never refused


BEACON_SENDER = Sender(BEACON, Standing.UNKNOWN)


def test_with_no_commander_whoever_may_act_stands_in_but_restrict_to_responders_narrows_it():
    subject = Subject(incident(None))
    assert Role.COMMANDER in roles_of(Sender(DAN, Standing.MEMBER), subject, parse_config({}))
    restricted = parse_config({"roles": {"restrict_to_responders": True}})
    assert Role.COMMANDER not in roles_of(Sender(DAN, Standing.MEMBER), subject, restricted)
    assert Role.COMMANDER in roles_of(Sender(BOB, Standing.MEMBER), subject, restricted)  # the declarer


def test_guests_and_unknown_people_hold_no_role_of_an_incident():
    subject = Subject(incident(ALICE), owner_aad=ALICE.aad_object_id)
    assert roles_of(Sender(ALICE, Standing.GUEST), subject, parse_config({})) == {Role.GUEST}
    admins = parse_config({"roles": {"incident_admins": [ALICE.aad_object_id]}})
    assert roles_of(Sender(ALICE, Standing.UNKNOWN), subject, admins) == {Role.UNKNOWN, Role.ADMIN}


def test_a_report_owner_is_known_by_id_or_by_email():
    subject = Subject(incident(ALICE), owner_aad="", owner_email="Dan@Example.com")
    assert Role.OWNER in roles_of(Sender(DAN, Standing.MEMBER, email="dan@example.com"), subject, parse_config({}))
    assert decide(Verb.REVIEW_HELD, Sender(DAN, Standing.MEMBER, email="dan@example.com"), subject,
                  parse_config({})) == ""
