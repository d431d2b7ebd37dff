"""The incident lifecycle rules, with no database and a clock passed in."""

from datetime import UTC, datetime, timedelta

import pytest

from services.incidents import (
    TRANSITIONS,
    Incident,
    InvalidTransition,
    Level,
    Person,
    PriorityMatrix,
    Status,
    ValidationFailed,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Person("aad-alice", "Alice", "29:alice")
BOB = Person("aad-bob", "Bob", "29:bob")


def declared(**overrides) -> Incident:
    values = dict(title="Payments API down", description="", impact=Level.HIGH, urgency=Level.HIGH,
                  priority="P1", service="payments-api", client="", declared_by=ALICE, commander=None,
                  source="chat", now=T0)
    values.update(overrides)
    incident = Incident.declare(**values)
    incident.id = 7
    return incident


@pytest.mark.parametrize(("impact", "urgency", "expected"), [
    ("high", "high", "P1"), ("high", "medium", "P2"), ("medium", "high", "P2"),
    ("high", "low", "P3"), ("medium", "medium", "P3"), ("low", "high", "P3"),
    ("medium", "low", "P4"), ("low", "medium", "P4"), ("low", "low", "P5"),
])
def test_default_matrix_is_itil_three_by_three(impact, urgency, expected):
    assert PriorityMatrix.default().priority(Level(impact), Level(urgency)) == expected


def test_declaring_records_one_event_with_the_snapshot():
    incident = declared()
    assert incident.status is Status.TRIAGE
    [event] = incident.pending_events
    assert event.kind == "declared" and event.actor == ALICE and event.at == T0
    assert event.after["priority"] == "P1"


def test_full_lifecycle_records_each_step():
    incident = declared()
    steps = [Status.INVESTIGATING, Status.FIXING, Status.VERIFYING, Status.MONITORING]
    for minute, status in enumerate(steps, start=1):
        incident.move_to(status, BOB, T0 + timedelta(minutes=minute))
    incident.resolve("Rolled back release 42", BOB, T0 + timedelta(minutes=9))
    incident.move_to(Status.CLOSED, BOB, T0 + timedelta(minutes=10))
    kinds = [e.kind for e in incident.pending_events]
    assert kinds == ["declared"] + ["status_changed"] * 4 + ["resolved", "closed"]
    assert incident.resolved_at == T0 + timedelta(minutes=9)
    assert incident.resolution_summary == "Rolled back release 42"
    assert incident.pending_events[1].before == {"status": "triage"}


def test_transitions_not_in_the_table_are_refused_and_change_nothing():
    incident = declared()
    with pytest.raises(InvalidTransition):
        incident.move_to(Status.VERIFYING, BOB, T0)
    with pytest.raises(InvalidTransition):
        incident.move_to(Status.CLOSED, BOB, T0)
    assert incident.status is Status.TRIAGE and len(incident.pending_events) == 1


def test_every_status_has_a_row_and_closed_is_terminal():
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.CLOSED] == frozenset()


def test_resolve_needs_a_summary():
    incident = declared()
    with pytest.raises(ValidationFailed) as error:
        incident.resolve("   ", BOB, T0)
    assert error.value.field == "summary"
    with pytest.raises(ValidationFailed):
        incident.move_to(Status.RESOLVED, BOB, T0)
    assert incident.status is Status.TRIAGE


def test_reopen_clears_the_resolution():
    incident = declared()
    incident.resolve("restarted", BOB, T0)
    incident.move_to(Status.INVESTIGATING, BOB, T0 + timedelta(minutes=5))
    assert incident.pending_events[-1].kind == "reopened"
    assert incident.resolved_at is None and incident.resolution_summary == ""


def test_take_command_also_acknowledges_and_records_the_previous_commander():
    incident = declared(commander=ALICE)
    incident.take_command(BOB, T0 + timedelta(minutes=2))
    assert incident.commander == BOB and incident.acknowledged_by == BOB
    event = incident.pending_events[-1]
    assert event.before == {"commander": ALICE.to_dict()} and event.after == {"commander": BOB.to_dict()}
    with pytest.raises(InvalidTransition):
        incident.take_command(BOB, T0)


def test_acknowledge_once():
    incident = declared()
    incident.acknowledge(BOB, T0)
    with pytest.raises(InvalidTransition):
        incident.acknowledge(ALICE, T0)


def test_assigning_is_additive_and_ignores_people_already_assigned():
    incident = declared()
    incident.assign_responders((ALICE,), BOB, T0)
    incident.assign_responders((ALICE, BOB), BOB, T0)
    assert incident.responders == (ALICE, BOB)
    with pytest.raises(ValidationFailed):
        incident.assign_responders((BOB,), ALICE, T0)


def test_reassess_changes_priority_and_records_before_and_after():
    incident = declared()
    incident.reassess(Level.LOW, Level.LOW, "P5", BOB, T0)
    event = incident.pending_events[-1]
    assert (event.before["priority"], event.after["priority"]) == ("P1", "P5")
    with pytest.raises(ValidationFailed):
        incident.reassess(Level.LOW, Level.LOW, "P5", BOB, T0)


def test_notes_are_limited_and_required():
    incident = declared()
    with pytest.raises(ValidationFailed):
        incident.add_note("", BOB, T0)
    with pytest.raises(ValidationFailed):
        incident.add_note("x" * 5000, BOB, T0)
    incident.add_note("DB failover started", BOB, T0)
    assert incident.pending_events[-1].summary == "DB failover started"


def test_resolved_incident_refuses_role_changes():
    incident = declared()
    incident.resolve("fixed", BOB, T0)
    with pytest.raises(InvalidTransition):
        incident.take_command(ALICE, T0)
    with pytest.raises(InvalidTransition):
        incident.assign_responders((ALICE,), BOB, T0)
