"""What an incident means for its Freshdesk tickets: the ticket Beacon creates, and which changes
become a PUT or a note. Pure: no HTTP, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.config import parse_config
from services.incidents import Incident, Level, Person, Status
from services.intake.alert_store import stored_key
from services.intake.requester import Requesters
from services.intake.settings import IntakeSettings
from services.intake.tickets import (
    TicketChanges,
    custom_fields,
    teams_thread_url,
    ticket_changes,
    ticket_request,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Person("aad-alice", "Alice Carter")
CONFIG = parse_config({"directory": {"clients": [
    {"name": "Contoso", "contacts": [{"name": "No mail"}, {"name": "Casey", "email": "casey@contoso.example"}]},
    {"name": "Fabrikam"}]}})


def settings(**values: object) -> IntakeSettings:
    return IntakeSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def incident(priority: str = "P1", client: str = "") -> Incident:
    declared = Incident.declare(title="Checkout <b>down</b>", description="Line 1\nLine <2>", impact=Level.HIGH,
                                urgency=Level.HIGH, priority=priority, service="payments-api", client=client,
                                declared_by=ALICE, commander=None, source="chat", now=T0)
    declared.id, declared.version = 7, 2
    declared.pending_events.clear()
    return declared


def changes_for(apply) -> tuple[Incident, TicketChanges]:  # type: ignore[no-untyped-def]
    subject = incident()
    apply(subject)
    events = list(subject.pending_events)
    return subject, ticket_changes(subject, events)


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith(("FRESHDESK_", "ALERTS_"))]:
        monkeypatch.delenv(name)


def test_the_created_ticket_has_the_number_priority_tags_requester_and_a_link_back():
    request = ticket_request(incident(), CONFIG, settings(), "https://teams.microsoft.com/l/message/x/1",
                             "noc@example.com")
    assert request.subject == "[INC-7] Checkout <b>down</b>"
    assert (request.priority, request.status, request.tags) == (4, 2, ("beacon", "INC-7"))
    assert request.requester_email == "noc@example.com"
    assert "Checkout &lt;b&gt;down&lt;/b&gt;" in request.description_html  # the title is text, not markup
    assert "Line 1<br>Line &lt;2&gt;" in request.description_html
    assert 'href="https://teams.microsoft.com/l/message/x/1"' in request.description_html
    assert "incidents channel" in ticket_request(incident(), CONFIG, settings(), "", "a@b.c").description_html


@pytest.mark.parametrize(("priority", "freshdesk"), [("P1", 4), ("P2", 3), ("P3", 2), ("P4", 1), ("P5", 1)])
def test_priorities_map_p1_to_urgent_down_to_low(priority: str, freshdesk: int):
    request = ticket_request(incident(priority), CONFIG, settings(), "", "a@b.c")
    assert request.priority == freshdesk


async def test_the_requester_is_the_configured_one_else_the_clients_first_contact_with_an_email():
    assert await Requesters(CONFIG, settings()).of(incident(client="Contoso")) == "casey@contoso.example"
    configured = settings(FRESHDESK_REQUESTER_EMAIL="noc@example.com")
    assert await Requesters(CONFIG, configured).of(incident(client="Contoso")) == "noc@example.com"
    for client in ("", "Fabrikam"):  # Alice, who declared, has no email in this directory; no MAIL_SENDER
        with pytest.raises(ValueError, match="FRESHDESK_REQUESTER_EMAIL"):
            await Requesters(CONFIG, settings()).of(incident(client=client))


def test_custom_fields_fill_in_incident_values_and_keep_everything_else():
    template = {"cf_incident": "{number}", "cf_summary": "{priority} on {service}", "cf_json": "{literal}",
                "cf_brace": "{", "cf_count": 3, "cf_flag": True}
    assert custom_fields(template, incident()) == {
        "cf_incident": "INC-7", "cf_summary": "P1 on payments-api", "cf_json": "{literal}", "cf_brace": "{",
        "cf_count": 3, "cf_flag": True}


def test_priority_changes_put_only_when_freshdesk_sees_a_difference():
    subject, changes = changes_for(lambda i: i.reassess(Level.MEDIUM, Level.HIGH, "P2", ALICE, T0))
    assert changes == TicketChanges(priority=3)
    _, same = changes_for(lambda i: (setattr(i, "priority", "P4"), i.reassess(Level.LOW, Level.LOW, "P5", ALICE, T0)))
    assert not same  # P4 and P5 are both Freshdesk "low"


@pytest.mark.parametrize(("path", "status"), [
    ((Status.INVESTIGATING,), None),  # open stays open
    ((Status.INVESTIGATING, Status.MONITORING), 3),  # pending while the fix is watched
    ((Status.INVESTIGATING, Status.MONITORING, Status.INVESTIGATING), 2),
])
def test_lifecycle_moves_map_to_freshdesk_statuses(path: tuple[Status, ...], status: int | None):
    def walk(subject: Incident) -> None:
        for step in path:
            subject.move_to(step, ALICE, T0)

    assert changes_for(walk)[1].status == status


def test_resolve_close_and_reopen_put_4_5_and_2_and_resolving_notes_the_summary():
    subject, resolved = changes_for(lambda i: i.resolve("Rolled back <4.2>", ALICE, T0))
    assert resolved.status == 4 and "Rolled back &lt;4.2&gt;" in resolved.notes[0]
    subject.pending_events.clear()
    subject.move_to(Status.CLOSED, ALICE, T0)
    assert ticket_changes(subject, list(subject.pending_events)).status == 5
    reopened = incident()
    reopened.resolve("done", ALICE, T0)
    reopened.pending_events.clear()
    reopened.move_to(Status.INVESTIGATING, ALICE, T0)
    assert ticket_changes(reopened, list(reopened.pending_events)).status == 2


def test_status_updates_become_notes_saying_who_wrote_them():
    _, posted = changes_for(lambda i: i.post_update("DB <failover> done\nwatching", "stakeholders", ALICE, T0))
    assert posted.notes == ("<p><b>INC-7 stakeholders update</b> by Alice Carter</p>"
                            "<p>DB &lt;failover&gt; done<br>watching</p>",)
    _, automatic = changes_for(lambda i: i.post_update("Still on it", "responders", None, T0, automatic=True))
    assert "by Beacon (automatic)" in automatic.notes[0]
    _, quiet = changes_for(lambda i: i.add_note("internal", ALICE, T0))
    assert not quiet


def test_the_thread_link_opens_the_channel_message():
    url = teams_thread_url("19:abc@thread.tacv2", "19:abc@thread.tacv2;messageid=17", "17", "tenant-1")
    assert url == ("https://teams.microsoft.com/l/message/19%3Aabc%40thread.tacv2/17"
                   "?tenantId=tenant-1&parentMessageId=17")
    assert teams_thread_url("", "a:chat;messageid=5", "5", "").startswith("https://teams.microsoft.com/l/message/a%3Achat/5?")


def test_settings_read_custom_fields_as_json_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FRESHDESK_CUSTOM_FIELDS", '{"cf_incident": "{number}"}')
    monkeypatch.setenv("FRESHDESK_PUBLIC_NOTES", "true")
    monkeypatch.setenv("ALERTS_WEBHOOK_TOKEN", "s3cret")
    read = IntakeSettings(_env_file=None)  # type: ignore[call-arg]
    assert read.custom_fields == {"cf_incident": "{number}"} and read.public_notes is True
    assert read.alerts_token_value == "s3cret" and "s3cret" not in repr(read)
    with pytest.raises(ValidationError, match="JSON object"):
        settings(FRESHDESK_CUSTOM_FIELDS="cf_incident=INC")
    with pytest.raises(ValidationError, match="not an email address"):
        settings(FRESHDESK_REQUESTER_EMAIL="noc")


def test_outsized_alert_keys_are_stored_as_their_hash():
    assert stored_key("c6eadffa33fcdf37") == "c6eadffa33fcdf37"
    hashed = stored_key("x" * 501)
    assert hashed.startswith("sha256:") and len(hashed) == 71 and hashed == stored_key("x" * 501)
