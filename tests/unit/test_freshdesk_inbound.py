"""Freshdesk's automation-rule webhook: placeholders arrive as strings; reports are triaged by rules."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.config import ClientEntry
from services.freshdesk.inbound import (
    ReportedIssue,
    ReportFormatError,
    ReportTriageConfig,
    classify_report,
    html_to_text,
    parse_ticket_webhook,
)
from services.incidents.model import Level

# What Freshdesk posts for the body Beacon documents, once it has substituted the placeholders.
SUBSTITUTED = {
    "ticket_id": "4821",
    "subject": "Checkout fails for all users",
    "description": (
        "<div>Hi team,</div><div><br></div><p>Since 09:10 <b>every</b> payment fails with "
        "&quot;503&quot; &amp; customers can&#39;t check out.</p><ul><li>Card payments</li>"
        "<li>Wallets</li></ul><script>alert('x')</script><style>p {color: red}</style>"
        "<p>Regards,<br>Casey</p>"
    ),
    "priority": "Urgent",
    "requester_email": "Casey Contoso <Casey@Contoso.example>",
    "company": "Contoso Ltd",
    "tags": "checkout, payments-api ,checkout,",
    "url": "https://example.freshdesk.com/helpdesk/tickets/4821",
    "status": "Open",  # extra fields an admin adds are ignored
}

CLIENTS = [
    ClientEntry(name="Contoso", aliases=["Contoso Ltd"], email_domains=["contoso.example"]),
    ClientEntry(name="Fabrikam", email_domains=["fabrikam.example"]),
]


def body(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SUBSTITUTED)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def report(**changes: Any) -> ReportedIssue:
    values: dict[str, Any] = {
        "ticket_id": 1, "subject": "Question", "description": "", "priority": "", "requester_email": "",
        "company": "", "tags": (), "url": "",
    }
    values.update(changes)
    return ReportedIssue(**values)


# Parsing ---------------------------------------------------------------------------------------

def test_the_documented_body_with_placeholders_substituted_as_strings():
    issue = parse_ticket_webhook(body())
    assert issue.ticket_id == 4821
    assert issue.subject == "Checkout fails for all users"
    assert issue.priority == "Urgent"
    assert issue.requester_email == "casey@contoso.example"
    assert issue.company == "Contoso Ltd"
    assert issue.tags == ("checkout", "payments-api")
    assert issue.url.endswith("/tickets/4821")
    assert issue.description == (
        "Hi team,\n\nSince 09:10 every payment fails with \"503\" & customers can't check out.\n"
        "Card payments\nWallets\nRegards,\nCasey")


@pytest.mark.parametrize(("sent", "priority"), [
    ("Urgent", "Urgent"), ("high", "High"), (" Medium ", "Medium"), ("LOW", "Low"),
    ("4", "Urgent"), ("3", "High"), (2, "Medium"), (1, "Low"), ("", ""), (None, ""),
    ("{{ticket.priority}}", ""),
])
def test_priority_by_name_or_freshdesk_number(sent: Any, priority: str):
    data = body(priority=sent) if sent is not None else body(priority=None)
    assert parse_ticket_webhook(data).priority == priority


def test_numbers_and_lists_from_a_hand_written_body():
    issue = parse_ticket_webhook(body(ticket_id=77, tags=["vpn", " vpn", "Login"], priority=3))
    assert (issue.ticket_id, issue.tags, issue.priority) == (77, ("vpn", "Login"), "High")
    assert parse_ticket_webhook(body(ticket_id="#78")).ticket_id == 78


def test_only_the_ticket_id_is_required():
    issue = parse_ticket_webhook({"ticket_id": "9"})
    assert issue == ReportedIssue(9, "Freshdesk ticket #9", "", "", "", "", (), "")


def test_a_placeholder_left_in_an_optional_field_means_no_value():
    issue = parse_ticket_webhook(body(company="{{ticket.company.name}}", tags="{{ticket.tags}}", subject=" "))
    assert (issue.company, issue.tags, issue.subject) == ("", (), "Freshdesk ticket #4821")


@pytest.mark.parametrize(("data", "message"), [
    ([], "the body must be a JSON object"),
    ("ticket_id=1", "the body must be a JSON object"),
    (body(ticket_id=None), "ticket_id is missing"),
    (body(ticket_id="{{ticket.id}}"), "ticket_id is the placeholder '{{ticket.id}}', not an id"),
    (body(ticket_id="abc"), "ticket_id must be a ticket number such as \"123\", got 'abc'"),
    (body(ticket_id="0"), "ticket_id must be a ticket number"),
    (body(ticket_id=-5), "ticket_id must be a ticket number such as \"123\", got -5"),
    (body(ticket_id="9" * 5000), "ticket_id must be a ticket number"),
    (body(ticket_id=2**64), "ticket_id must be a ticket number"),
    (body(ticket_id="١٢٣"), "ticket_id must be a ticket number"),  # Arabic-Indic digits are not an id
    (body(ticket_id=True), "ticket_id must be a ticket number such as \"123\", got true"),
    (body(ticket_id=12.0), "ticket_id must be a ticket number such as \"123\", got 12.0"),
    (body(priority="P1"), "priority must be Low, Medium, High, Urgent or 1-4, got 'P1'"),
    (body(priority=7), "priority must be Low, Medium, High, Urgent or 1-4, got 7"),
    (body(subject=7), "subject must be a string, got 7"),
    (body(description=["<p>x</p>"]), "description must be a string, got a list"),
    (body(tags=5), "tags must be a comma-separated string or a list of strings, got 5"),
    (body(tags=["ok", 1]), "tags[1] must be a string, got 1"),
    (body(requester_email={"email": "a@b"}), "requester_email must be a string, got an object"),
])
def test_a_bad_body_is_named(data: Any, message: str):
    with pytest.raises(ReportFormatError) as error:
        parse_ticket_webhook(data)
    assert message in error.value.message, error.value.message


def test_any_mutation_is_a_report_or_a_format_error():
    rng = random.Random(4821)
    junk: list[Any] = [None, True, 0, -1, 2**80, 1.5, "", "x" * 3000, "\ud800", "<![if", "<p", [], [None], {},
                       {"a": [{}]}, "{{ticket.id}}", "  ,  ,", "&#0;&#x110000;", "<script>", "9" * 30]
    for _ in range(3000):
        data = body()
        for _ in range(rng.randint(1, 4)):
            data[rng.choice([*SUBSTITUTED, "extra"])] = rng.choice(junk)
        try:
            issue = parse_ticket_webhook(data)
        except ReportFormatError as error:
            assert error.message
        else:
            assert issue.ticket_id > 0 and isinstance(issue.description, str)


# HTML to text ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("html", "text"), [
    ("plain text, no markup", "plain text, no markup"),
    ("a < b and c > d", "a < b and c > d"),
    ("<p>one</p><p>two</p>", "one\ntwo"),
    ("line<br/>break<br>again", "line\nbreak\nagain"),
    ("<p>x</p><p></p><p></p><p></p><p>y</p>", "x\ny"),  # empty blocks add nothing
    ("<p>x</p><br><br><br><br><p>y</p>", "x\n\ny"),  # at most one blank line
    ("<div>a\n  b</div>\n<div>c&nbsp;d</div>", "a b\nc d"),
    ("plain\n\n\n\ntext\n", "plain\n\ntext"),
    ("<b>bold</b> and <a href='https://x'>link</a>", "bold and link"),
    ("&lt;script&gt; is text &amp; &eacute;", "<script> is text & é"),
    ("<script>var a = '<p>hidden</p>';</script>shown", "shown"),
    ("<style>.a{}</style><template><p>no</p></template>ok", "ok"),
    ("<![if !supportLists]>-<![endif]>item", "-item"),
    ("<!-- note -->visible", "visible"),
    ("<p>unclosed <div>nested", "unclosed\nnested"),
    ("", ""),
])
def test_html_to_text(html: str, text: str):
    assert html_to_text(html) == text


# Classification --------------------------------------------------------------------------------

def test_no_signal_gives_the_defaults():
    result = classify_report(report(subject="How do I export a report?"), ReportTriageConfig())
    assert (result.impact, result.urgency, result.client, result.service, result.reasons) == (
        Level.LOW, Level.MEDIUM, "", "", ())


def test_the_documented_report_is_high_impact_high_urgency_for_contoso():
    issue = parse_ticket_webhook(body())
    result = classify_report(issue, ReportTriageConfig(), CLIENTS, ["payments-api", "web-portal"])
    assert (result.impact, result.urgency) == (Level.HIGH, Level.HIGH)
    assert (result.client, result.service) == ("Contoso", "payments-api")
    assert "keyword 'all users' → impact high" in result.reasons
    assert "priority Urgent → urgency high" in result.reasons
    assert "company 'Contoso Ltd' is client Contoso" in result.reasons
    assert "tag 'payments-api' → service payments-api" in result.reasons


def test_ticket_priority_sets_urgency_and_can_lower_the_default():
    config = ReportTriageConfig()
    assert classify_report(report(priority="High"), config).urgency == Level.HIGH
    assert classify_report(report(priority="Low"), config).urgency == Level.LOW
    # Several signals: the highest wins, so a keyword raises a Low ticket.
    raised = classify_report(report(priority="Low", subject="Please fix ASAP"), config)
    assert raised.urgency == Level.HIGH
    assert classify_report(report(priority="Low"), config.model_copy(
        update={"priority_urgency": {"urgent": Level.HIGH}})).urgency == Level.MEDIUM


def test_keywords_are_whole_words_and_ignore_case():
    config = ReportTriageConfig(impact_keywords={Level.HIGH: ["down"], Level.MEDIUM: ["slow"]})
    assert classify_report(report(subject="Portal is DOWN"), config).impact == Level.HIGH
    assert classify_report(report(subject="The download is slow"), config).impact == Level.MEDIUM
    assert classify_report(report(description="slowness"), config).impact == Level.LOW
    assert classify_report(report(tags=("down",)), config).impact == Level.HIGH


def test_the_client_by_email_domain_and_its_impact():
    config = ReportTriageConfig(client_impact={"Fabrikam": Level.MEDIUM})
    result = classify_report(report(requester_email="ops@eu.fabrikam.example"), config, CLIENTS)
    assert (result.client, result.impact) == ("Fabrikam", Level.MEDIUM)
    assert result.reasons == (
        "requester domain eu.fabrikam.example is client Fabrikam", "client Fabrikam → impact medium")
    other = classify_report(report(requester_email="x@notfabrikam.example", company="Nobody"), config, CLIENTS)
    assert other.client == ""


def test_service_from_keywords():
    config = ReportTriageConfig(service_keywords={"web-portal": ["login", "sign in"], "payments-api": ["payment"]})
    result = classify_report(report(subject="Cannot sign in"), config)
    assert (result.service, result.reasons) == ("web-portal", ("keyword 'sign in' → service web-portal",))


def test_the_config_from_yaml_and_its_errors():
    config = ReportTriageConfig.model_validate(yaml.safe_load("""
        impact_keywords: {high: [outage], medium: [degraded]}
        urgency_keywords: {high: [asap]}
        priority_urgency: {Urgent: high, High: medium}
        client_impact: {Contoso: high}
        service_keywords: {payments-api: [checkout]}
        default_impact: medium
        default_urgency: low
    """))
    assert config.impact_keywords[Level.HIGH] == ["outage"]
    assert classify_report(report(priority="High"), config).urgency == Level.MEDIUM
    assert classify_report(report(), config).impact == Level.MEDIUM
    with pytest.raises(ValidationError, match="impact_keyword"):
        ReportTriageConfig.model_validate({"impact_keyword": {}})
    with pytest.raises(ValidationError, match="default_urgency"):
        ReportTriageConfig.model_validate({"default_urgency": "critical"})
