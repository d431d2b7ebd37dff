"""Which open incident a customer's report is about: the same client (company or email domain,
already resolved by triage) or the same service, received while the incident lasts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.incidents import Incident, Level, Person, Status
from services.intake.links import match_incident
from services.intake.tables import ReportRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Person("aad-alice", "Alice")


def incident(number: int, *, client: str = "", service: str = "", at: datetime = T0, **changes: object) -> Incident:
    declared = Incident.declare(title=f"Incident {number}", description="", impact=Level.HIGH, urgency=Level.HIGH,
                                priority="P1", service=service, client=client, declared_by=ALICE, commander=None,
                                source="teams", now=at)
    return replace(declared, id=number, **changes)  # type: ignore[arg-type]


def report(client: str = "", service: str = "", at: datetime = T0 + timedelta(minutes=5)) -> ReportRow:
    return ReportRow(ticket_id=9, subject="Down", client=client, service=service, received_at=at, status="new")


def test_the_same_client_or_service_matches_and_both_beat_either():
    payments = incident(1, service="payments-api")
    contoso = incident(2, client="Contoso", service="web-portal")
    both = incident(3, client="Contoso", service="payments-api")
    assert match_incident(report(service="payments-api"), [payments]).incident_id == 1
    found = match_incident(report(client="contoso"), [payments, contoso])
    assert (found.incident_id, found.why) == (2, "same client Contoso")
    assert match_incident(report(client="Contoso", service="payments-api"), [payments, contoso, both]).why == \
        "same client Contoso and service payments-api"
    assert match_incident(report(client="Contoso"), [payments, contoso, both]).incident_id == 3  # newest of equals
    assert match_incident(report(client="Fabrikam", service="search"), [payments, contoso]) is None
    assert match_incident(report(), [payments, contoso]) is None  # nothing known about it: no guess


def test_only_open_real_incidents_whose_impact_had_started():
    early = report(client="Contoso", at=T0 - timedelta(minutes=30))
    assert match_incident(early, [incident(1, client="Contoso")]) is None
    started = incident(1, client="Contoso", impact_started_at=T0 - timedelta(hours=1))
    assert match_incident(early, [started]).incident_id == 1
    assert match_incident(report(client="Contoso"), [incident(2, client="Contoso", drill=True)]) is None
    assert match_incident(report(client="Contoso"), [incident(3, client="Contoso", status=Status.RESOLVED)]) is None
