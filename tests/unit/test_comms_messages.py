"""Whom each audience is told to contact: the whole line in emails and cards, the name alone in an
SMS, whatever the name is made of."""

from datetime import UTC, datetime

from services.comms.messages import CLIENTS, INITIAL, RESPONDERS, STAKEHOLDERS, Message, compose, sms
from services.config import parse_config
from services.incidents import Incident, Level, Person

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CONFIG = parse_config({
    "services": [{"name": "payments-api"}],
    "directory": {
        "product_head": {"name": "Priya (Product)", "email": "priya@example.com"},
        "clients": [{"name": "Contoso", "account_owner": {"name": "Doe, Jane (EMEA)", "email": "jane@example.com"}},
                    {"name": "Fabrikam"}],
    },
})


def incident(client: str = "", commander: Person | None = None) -> Incident:
    found = Incident.declare(title="Checkout failing", description="", impact=Level.HIGH, urgency=Level.HIGH,
                             priority="P1", service="payments-api", client=client,
                             declared_by=Person("aad-1", "Alice"), commander=commander, source="chat", now=NOW)
    found.id = 1
    return found


def test_an_sms_names_the_contact_even_when_the_name_has_a_comma_or_brackets():
    message = compose(incident("Contoso"), CONFIG, INITIAL, CLIENTS, at=NOW)
    assert message.contact == "Doe, Jane (EMEA) (jane@example.com), your account manager"
    assert message.contact_name == "Doe, Jane (EMEA)"
    assert "Contact Doe, Jane (EMEA)." in sms(message)

    internal = compose(incident(), CONFIG, INITIAL, STAKEHOLDERS, at=NOW)
    assert internal.contact == "Priya (Product) (priya@example.com), Product Head"
    assert "Contact Priya (Product)." in sms(internal)


def test_without_a_named_owner_the_sms_names_whom_the_message_does():
    bare = parse_config({"services": [{"name": "payments-api"}], "directory": {"clients": [{"name": "Fabrikam"}]}})
    assert "Contact your usual contact." in sms(compose(incident("Fabrikam"), bare, INITIAL, CLIENTS, at=NOW))
    assert "Contact the incident's commander." in sms(compose(incident(), bare, INITIAL, STAKEHOLDERS, at=NOW))
    led = compose(incident(commander=Person("aad-2", "Lee, Sam")), CONFIG, INITIAL, RESPONDERS, at=NOW)
    assert (led.contact, led.contact_name) == ("Lee, Sam (commander)", "Lee, Sam")


def test_the_contact_name_is_kept_through_a_stored_message():
    message = compose(incident("Contoso"), CONFIG, INITIAL, CLIENTS, at=NOW)
    assert Message.from_dict(message.to_dict()) == message
