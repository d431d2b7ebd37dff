"""The Graph adapters against the local fake Graph, over real HTTP through msgraph-sdk."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.delivery import PermanentDeliveryError, TransientDeliveryError
from services.graph import GraphAdapters, GraphSettings, build_graph_adapters
from services.graph.calls import GraphCalling
from services.graph.channels import NameTaken, channel_name, incident_channel_name
from services.ports import CallTarget, EmailMessage, MeetingRequest, Recipient
from tests.fakes.graph import FakeGraph, object_id

TOKEN = "dev-token"
APP_ID = "dd3885da-f9ab-486b-bfae-85de3d445555"
TENANT = "72f988bf-0000-0000-0000-2d7cd011db47"
ORGANIZER = "bridge@contoso.com"
SENDER = "noc@contoso.com"
CALLBACK = "https://beacon.contoso.com/api/calls"
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DOC_CALL = Path(__file__).parent.parent / "data" / "graph" / "create_group_call_request.json"
CLIENT = Recipient("ops@client.example", "Client Ops")
VENDOR = Recipient("support@vendor.example")
MAIL = EmailMessage(to=(CLIENT,), subject="INC-42 update", html="<p>Mitigated</p>", text="Mitigated")

# msgraph-sdk's generated request builders warn about their own deprecated classes on import.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own Graph variables must not change what these tests build."""
    for field in GraphSettings.model_fields.values():
        alias = field.validation_alias
        names = [alias] if isinstance(alias, str) else getattr(alias, "choices", [])
        for name in names:
            monkeypatch.delenv(str(name), raising=False)


def settings_for(base_url: str, **values: Any) -> GraphSettings:
    defaults: dict[str, Any] = {
        "GRAPH_BASE_URL": base_url, "GRAPH_ACCESS_TOKEN": TOKEN, "GRAPH_ORGANIZER_USER_ID": ORGANIZER,
        "MAIL_SENDER": SENDER, "MicrosoftAppId": APP_ID, "GRAPH_MAX_RETRIES": 0,
        "GRAPH_RETRY_BACKOFF_SECONDS": 0.01, "GRAPH_RETRY_MAX_WAIT_SECONDS": 2, "GRAPH_TIMEOUT_SECONDS": 5}
    return GraphSettings(_env_file=None, **{**defaults, **values})  # type: ignore[call-arg]


@pytest_asyncio.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph(token=TOKEN) as fake:
        yield fake


@pytest_asyncio.fixture
async def build(graph: FakeGraph) -> AsyncIterator[Any]:
    built: list[GraphAdapters] = []

    def make(**values: Any) -> GraphAdapters:
        built.append(build_graph_adapters(settings_for(graph.base_url, **values)))
        return built[-1]

    yield make
    for adapters in built:
        await adapters.aclose()


def bridge_request(*attendees: Recipient, external_id: str = "INC-42") -> MeetingRequest:
    return MeetingRequest(external_id=external_id, subject="INC-42 Payments down", body_html="<p>Bridge</p>",
                          start=START, end=START + timedelta(hours=1), attendees=attendees)


async def test_event_meeting_invites_attendees_with_a_teams_link(graph: FakeGraph, build: Any) -> None:
    request = bridge_request(CLIENT, VENDOR, Recipient("OPS@client.example"))
    meeting = await build().conferencing.create_meeting(request)

    [post] = graph.requests_to("/events", "POST")
    assert post.path == f"/v1.0/users/{ORGANIZER}/events"
    body = post.body
    assert body["isOnlineMeeting"] is True and body["onlineMeetingProvider"] == "teamsForBusiness"
    assert [(a["emailAddress"]["address"], a["type"]) for a in body["attendees"]] == [
        ("ops@client.example", "required"), ("support@vendor.example", "required")]
    assert body["body"] == {"contentType": "html", "content": "<p>Bridge</p>"}
    assert body["start"] == {"dateTime": "2026-03-02T09:30:00", "timeZone": "UTC"}
    assert body["transactionId"] == "INC-42"
    event = graph.events[meeting.id]
    assert meeting.join_url == event["onlineMeeting"]["joinUrl"]
    assert meeting.dial_in == "+1 555 0100,,123456789#" and meeting.conference_id == "123456789"


async def test_a_retried_event_create_returns_the_same_meeting(graph: FakeGraph, build: Any) -> None:
    conferencing = build().conferencing
    first = await conferencing.create_meeting(bridge_request(CLIENT))
    again = await conferencing.create_meeting(bridge_request(CLIENT))
    assert again == first and len(graph.events) == 1


async def test_invite_adds_only_people_not_yet_invited(graph: FakeGraph, build: Any) -> None:
    conferencing = build().conferencing
    meeting = await conferencing.create_meeting(bridge_request(CLIENT))
    await conferencing.invite(meeting, (Recipient("OPS@client.example"), VENDOR, VENDOR))
    await conferencing.invite(meeting, (VENDOR,))  # a retried delivery changes nothing

    [patch] = graph.requests_to(f"/events/{meeting.id}", "PATCH")
    assert [a["emailAddress"]["address"] for a in patch.body["attendees"]] == [CLIENT.email, VENDOR.email]
    assert len(graph.requests_to(f"/events/{meeting.id}", "GET")) == 2


async def test_an_event_without_a_teams_link_is_tried_again_and_says_why(graph: FakeGraph, build: Any) -> None:
    graph.omit_join_url = True
    with pytest.raises(TransientDeliveryError, match="Teams licence"):
        await build().conferencing.create_meeting(bridge_request(CLIENT))
    assert len(graph.requests_to("/events/", "GET")) == 4  # re-read with backoff, then the outbox retries
    with pytest.raises(TransientDeliveryError):
        await build().conferencing.create_meeting(bridge_request(CLIENT))
    assert len(graph.events) == 1  # the retry found the same event by its transactionId


async def test_a_join_link_that_comes_late_is_waited_for(graph: FakeGraph, build: Any) -> None:
    graph.join_link_after_reads = 3
    meeting = await build().conferencing.create_meeting(bridge_request(CLIENT))
    event = graph.events[meeting.id]
    assert meeting.join_url == event["onlineMeeting"]["joinUrl"]
    reads = graph.requests_to(f"/events/{meeting.id}", "GET")
    assert len(reads) == 3 and reads[2].at - reads[0].at >= 0.01 * (2 + 4)  # backing off between reads

    graph.join_link_after_reads = 2
    online = await build(GRAPH_MEETING_MODE="onlineMeetings").conferencing.create_meeting(bridge_request())
    assert online.join_url and [r.status for r in graph.requests_to("createOrGet", "POST")] == [201, 200, 200]


async def test_create_or_get_twice_is_one_meeting(graph: FakeGraph, build: Any) -> None:
    conferencing = build(GRAPH_MEETING_MODE="onlineMeetings").conferencing
    first = await conferencing.create_meeting(bridge_request())
    again = await conferencing.create_meeting(bridge_request())

    assert again == first and len(graph.online_meetings) == 1
    posts = graph.requests_to("/onlineMeetings/createOrGet", "POST")
    assert [r.status for r in posts] == [201, 200]
    # Application permissions take the organiser's object id: the UPN is looked up once.
    assert posts[0].path == f"/v1.0/users/{object_id(ORGANIZER)}/onlineMeetings/createOrGet"
    [look_up] = graph.requests_to(f"/users/{ORGANIZER}", "GET")
    assert look_up.query == {"$select": "id"}
    assert posts[0].body["externalId"] == "INC-42" and posts[0].body["subject"] == "INC-42 Payments down"
    # The documented response spells audioConferencing.ConferenceId in PascalCase.
    assert first.dial_in == "+1252578,,24999#" and first.conference_id == "24999"
    assert first.join_url == graph.online_meetings[object_id(ORGANIZER), "INC-42"]["joinWebUrl"]
    assert graph.sent_mail() == []  # no attendees, no invitation


async def test_online_meeting_invitations_go_out_by_mail(graph: FakeGraph, build: Any) -> None:
    conferencing = build(GRAPH_MEETING_MODE="onlineMeetings").conferencing
    meeting = await conferencing.create_meeting(bridge_request(CLIENT, VENDOR))
    await conferencing.invite(meeting, (Recipient("dev@contoso.com"),))

    first, second = graph.sent_mail()
    assert first.sender == SENDER and first.subject == "INC-42 Payments down"
    assert first.to == [CLIENT.email, VENDOR.email]
    assert "<p>Bridge</p>" in first.html and meeting.join_url.replace("&", "&amp;") in first.html
    assert second.to == ["dev@contoso.com"] and meeting.join_url in second.html


async def test_send_mail_as_the_sender_with_plain_text_beside_html_and_copies(graph: FakeGraph, build: Any) -> None:
    message = EmailMessage(to=(CLIENT, VENDOR), cc=(Recipient("lead@contoso.com", "Lead"),),
                           subject="INC-42 update · Zahlungen", html="<p>Mitigated &amp; <b>watching</b></p>",
                           text="Mitigated & watching")
    await build().mailer.send_mail(message)

    [request] = graph.requests_to("/sendMail")
    assert request.path == f"/v1.0/users/{SENDER}/sendMail"
    # Graph's MIME format: the base64 of the whole message, sent as text/plain.
    assert request.headers["content-type"].startswith("text/plain") and isinstance(request.raw_body, str)
    assert request.authorization == f"Bearer {TOKEN}" and request.status == 202
    [mail] = graph.sent_mail()
    assert mail.mime and mail.parts == ["text/plain", "text/html"]  # multipart/alternative, HTML last
    assert (mail.sender, mail.subject, mail.html) == (SENDER, "INC-42 update · Zahlungen",
                                                      "<p>Mitigated &amp; <b>watching</b></p>\n")
    assert mail.text.strip() == "Mitigated & watching"
    assert mail.to == [CLIENT.email, VENDOR.email] and mail.cc == ["lead@contoso.com"]
    assert mail.message["toRecipients"][0]["emailAddress"]["name"] == "Client Ops"


async def test_an_email_given_only_html_still_gets_a_readable_text_part(graph: FakeGraph, build: Any) -> None:
    await build().mailer.send_mail(EmailMessage(to=(CLIENT,), subject="INC-42", text="",
                                                html="<h2>INC-42 · Resolved</h2><p>Rolled back <b>4.2</b>"
                                                     "</p><p><a href='https://x.example/r'>Report</a></p>"))
    [mail] = graph.sent_mail()
    assert mail.text.strip() == "INC-42 · Resolved\nRolled back 4.2\nReport"


@pytest.mark.parametrize(("content_type", "body", "status", "code"), [
    ("text/plain", "not base64 at all!", 400, "ErrorMimeContentInvalidBase64String"),
    ("text/plain", "U3ViamVjdDogaGk=", 400, "ErrorMimeContentInvalidBase64String"),  # "Subject: hi": no MIME
    ("text/plain", "TUlNRS1WZXJzaW9uOiAxLjANClN1YmplY3Q6IGhpDQoNCmhp", 400,  # MIME, but nobody to send to
     "ErrorInvalidRecipients"),
    ("text/html", "<p>hi</p>", 415, "UnsupportedMediaType"),
])
async def test_the_fake_refuses_send_mail_as_graph_does(graph: FakeGraph, content_type: str, body: str,
                                                        status: int, code: str) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{graph.base_url}/users/{SENDER}/sendMail", content=body,
                                 headers={"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert graph.sent_mail() == []


async def test_mail_without_recipients_is_refused_before_sending(graph: FakeGraph, build: Any) -> None:
    with pytest.raises(PermanentDeliveryError, match="no recipients"):
        await build().mailer.send_mail(EmailMessage(to=(), subject="x", html="<p>x</p>", text="x"))
    assert graph.requests == []


async def test_throttling_is_retried_after_retry_after(graph: FakeGraph, build: Any) -> None:
    graph.throttle(1, retry_after=1, path_contains="/events")
    meeting = await build(GRAPH_MAX_RETRIES=2).conferencing.create_meeting(bridge_request(CLIENT))

    first, second = graph.requests_to("/events", "POST")
    assert (first.status, second.status) == (429, 201)
    assert second.at - first.at >= 0.95  # waited as Graph asked
    assert list(graph.events) == [meeting.id]


async def test_a_long_retry_after_goes_back_to_the_outbox(graph: FakeGraph, build: Any) -> None:
    graph.throttle(1, retry_after=120)
    with pytest.raises(TransientDeliveryError) as caught:
        await build(GRAPH_MAX_RETRIES=2).mailer.send_mail(MAIL)
    assert caught.value.status == 429 and caught.value.retry_after == 120
    assert "TooManyRequests" in str(caught.value) and len(graph.requests) == 1


async def test_unavailable_beyond_the_retries_is_transient(graph: FakeGraph, build: Any) -> None:
    graph.unavailable(5)
    with pytest.raises(TransientDeliveryError, match="ServiceUnavailable") as caught:
        await build(GRAPH_MAX_RETRIES=2).conferencing.create_meeting(bridge_request(CLIENT))
    assert caught.value.status == 503 and len(graph.requests_to("/events")) == 3


async def test_missing_access_policy_points_at_the_fix(graph: FakeGraph, build: Any) -> None:
    graph.deny_meeting_policy()
    with pytest.raises(PermanentDeliveryError) as caught:
        await build(GRAPH_MEETING_MODE="onlineMeetings").conferencing.create_meeting(bridge_request())
    text = str(caught.value)
    assert "not authorized to Create meeting on behalf of user" in text
    assert "infra/graph-permissions.md#application-access-policy" in text and caught.value.status == 403


async def test_access_denied_on_a_mailbox_points_at_the_permission(graph: FakeGraph, build: Any) -> None:
    graph.fail_next(2, 403, code="ErrorAccessDenied",
                    message="Access is denied. Check credentials and try again.")
    adapters = build()
    with pytest.raises(PermanentDeliveryError, match="Calendars.ReadWrite") as caught:
        await adapters.conferencing.create_meeting(bridge_request(CLIENT))
    assert ORGANIZER in str(caught.value) and "#application-access-policy" in str(caught.value)
    with pytest.raises(PermanentDeliveryError, match=f"Mail.Send.*{SENDER}"):
        await adapters.mailer.send_mail(MAIL)


def _targets(count: int) -> tuple[CallTarget, ...]:
    return tuple(CallTarget(f"00000000-0000-0000-0000-00000000000{i}", f"Responder {i}")
                 for i in range(count))


async def test_ring_starts_a_service_hosted_group_call(graph: FakeGraph, build: Any) -> None:
    call_id = await build().calling.ring(subject="INC-42 bridge", targets=_targets(2), callback_uri=CALLBACK,
                                         tenant_id=TENANT)

    [request] = graph.requests_to("/communications/calls", "POST")
    body = request.body
    assert body["@odata.type"] == "#microsoft.graph.call" and call_id in graph.calls
    assert body["mediaConfig"]["@odata.type"] == "#microsoft.graph.serviceHostedMediaConfig"
    assert body["requestedModalities"] == ["audio"]
    assert [t["identity"]["user"]["id"] for t in body["targets"]] == [t.aad_object_id for t in _targets(2)]
    assert (body["callbackUri"], body["tenantId"], body["direction"]) == (CALLBACK, TENANT, "outgoing")
    assert body["source"]["identity"]["application"] == {"id": APP_ID, "displayName": "Beacon"}
    assert set(json.loads(DOC_CALL.read_text())) <= set(body)  # every field of the documented example


async def test_more_than_five_people_are_refused_without_a_request(graph: FakeGraph, build: Any) -> None:
    with pytest.raises(PermanentDeliveryError, match="at most 5"):
        await build().calling.ring(subject="s", targets=_targets(6), callback_uri=CALLBACK, tenant_id=TENANT)
    assert graph.requests == []


async def test_other_tenant_users_cannot_be_rung(graph: FakeGraph, build: Any) -> None:
    graph.tenant_mismatch()
    # the bare body reported in microsoft-graph-comms-samples#720 (facts §10.22)
    graph.fail_next(1, 403, body={"code": "7505", "message": "Request authorization tenant mismatch."})
    calling = build().calling
    for _ in range(2):
        with pytest.raises(PermanentDeliveryError, match="another tenant") as caught:
            await calling.ring(subject="s", targets=_targets(1), callback_uri=CALLBACK, tenant_id=TENANT)
        assert "403 7505: Request authorization tenant mismatch." in str(caught.value)
        assert "invitation" in str(caught.value)


async def test_more_people_join_a_running_call(graph: FakeGraph, build: Any) -> None:
    calling = build().calling
    assert isinstance(calling, GraphCalling)
    call_id = await calling.ring(subject="s", targets=_targets(2), callback_uri=CALLBACK, tenant_id=TENANT)
    await calling.add_participants(call_id, _targets(4)[2:], client_context="INC-42")
    [invite] = graph.requests_to(f"/communications/calls/{call_id}/participants/invite")
    assert invite.body["clientContext"] == "INC-42" and len(graph.calls[call_id]["invited"]) == 2


TEAM_GROUP = "0b1d3a3e-5c4e-4f7a-9a61-2f1c6c0de001"  # the team's Microsoft 365 group id, as Graph names it


async def test_channel_per_incident_and_a_retry_finds_it_by_its_marker(graph: FakeGraph, build: Any) -> None:
    channels = build().channels
    created = await channels.create(TEAM_GROUP, incident_channel_name(42, "Payments/checkout down?"),
                                    "INC-42 [Beacon INC-42 x]")
    listed = await channels.channels(TEAM_GROUP)

    assert listed.find("[Beacon INC-42 x]") == created and listed.in_use == 1
    assert created.id.startswith("19:") and created.web_url.startswith("https://teams.microsoft.com/l/channel/")
    assert created.display_name == "inc-42-payments-checkout-down"
    assert graph.requests_to(f"/teams/{TEAM_GROUP}/channels", "POST")[0].body["membershipType"] == "standard"
    assert listed.find("[Beacon INC-43 x]") is None


async def test_graph_refuses_channel_names_teams_refuses(graph: FakeGraph, build: Any) -> None:
    channels = build().channels
    for bad in ("INC-1: down?", "a" * 51, "_INC-1", "INC-1.", "INC..1"):
        with pytest.raises(PermanentDeliveryError) as caught:
            await channels.create(TEAM_GROUP, bad, "")
        assert "400" in str(caught.value), bad
    with pytest.raises(PermanentDeliveryError) as caught:  # Teams' own team id is not Graph's
        await channels.create("19:Qx4wbeaconteamZ8kVn3pR2aLm7sT1uY6@thread.tacv2", "inc-1", "")
    assert "400" in str(caught.value) and "group id" in str(caught.value)
    await channels.create(TEAM_GROUP, "inc-1", "")
    with pytest.raises(NameTaken):
        await channels.create(TEAM_GROUP, "INC-1", "")


async def test_channels_need_their_permissions(graph: FakeGraph, build: Any) -> None:
    channels = build().channels
    graph.channel_roles = set()
    with pytest.raises(PermanentDeliveryError) as caught:
        await channels.create(TEAM_GROUP, "inc-1", "")
    assert "403" in str(caught.value) and "Channel.Create.Group" in str(caught.value)


async def test_archive_is_one_request_and_a_retry_finds_it_archived(graph: FakeGraph, build: Any) -> None:
    channels = build().channels
    made = await channels.create(TEAM_GROUP, "inc-1", "")
    before = len(graph.requests)
    await channels.archive(TEAM_GROUP, made.id)

    assert [(r.method, r.path) for r in graph.requests[before:]] == [
        ("POST", f"/v1.0/teams/{TEAM_GROUP}/channels/{made.id}/archive")]
    assert graph.channels[TEAM_GROUP][0]["isArchived"] is True
    await channels.archive(TEAM_GROUP, made.id)  # a retry whose first answer was lost: Graph refuses, it is done
    assert len(graph.requests_to("/archive", "POST")) == 2
    assert await channels.count(TEAM_GROUP) == 1


async def test_archive_in_an_archived_team_fails_with_graphs_reason(graph: FakeGraph, build: Any) -> None:
    channels = build().channels
    made = await channels.create(TEAM_GROUP, "inc-1", "")
    graph.archived_teams.add(TEAM_GROUP)
    with pytest.raises(PermanentDeliveryError) as caught:
        await channels.archive(TEAM_GROUP, made.id)

    assert "Team has to be active" in str(caught.value)
    assert graph.channels[TEAM_GROUP][0]["isArchived"] is False


def test_channel_names_follow_teams_rules() -> None:
    assert channel_name("_.INC..42 'x'.") == "INC.42 x"
    assert len(channel_name("INC-1 " + "a" * 80)) == 50
    assert incident_channel_name(7, "Disk full: db-01 (EU) #2", "-2") == "inc-7-disk-full-db-01-eu-2-2"
    assert len(incident_channel_name(123, "word " * 30, "-5")) <= 50


async def test_graph_base_url_and_static_token_are_used() -> None:
    async with FakeGraph(root="/graph/v1.0", token="other-token") as fake:
        adapters = build_graph_adapters(settings_for(fake.base_url, GRAPH_ACCESS_TOKEN="other-token"))
        try:
            await adapters.mailer.send_mail(MAIL)  # type: ignore[union-attr]
        finally:
            await adapters.aclose()
    [request] = fake.requests
    assert request.path == f"/graph/v1.0/users/{SENDER}/sendMail"
    assert request.authorization == "Bearer other-token"


async def test_a_rejected_token_is_permanent(graph: FakeGraph, build: Any) -> None:
    with pytest.raises(PermanentDeliveryError, match="InvalidAuthenticationToken"):
        await build(GRAPH_ACCESS_TOKEN="stale").mailer.send_mail(MAIL)


async def test_unreachable_and_slow_graph_are_transient(graph: FakeGraph, build: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = build(GRAPH_BASE_URL=f"http://127.0.0.1:{closed_port}/v1.0").mailer
    with pytest.raises(TransientDeliveryError, match="connection failed"):
        await unreachable.send_mail(MAIL)

    graph.slow_next(1, 0.5)
    with pytest.raises(TransientDeliveryError, match="timed out"):
        await build(GRAPH_TIMEOUT_SECONDS=0.1).mailer.send_mail(MAIL)


async def test_startup_check_finds_a_missing_mailbox() -> None:
    async with FakeGraph(token=TOKEN, known_users={ORGANIZER}) as fake:
        adapters = build_graph_adapters(settings_for(fake.base_url, MicrosoftAppId=""))
        try:
            problems = await adapters.check()
        finally:
            await adapters.aclose()
    not_configured, missing_mailbox = problems
    assert not_configured.startswith("Graph calling not configured: MicrosoftAppId")
    assert "MAIL_SENDER noc@contoso.com" in missing_mailbox and "ErrorInvalidUser" in missing_mailbox
    assert {r.path for r in fake.requests} == {"/v1.0/organization", f"/v1.0/users/{ORGANIZER}",
                                               f"/v1.0/users/{SENDER}"}


async def test_online_meetings_organizer_is_resolved_at_start_and_a_wrong_one_is_named() -> None:
    async with FakeGraph(token=TOKEN, known_users={ORGANIZER, SENDER}) as fake:
        adapters = build_graph_adapters(settings_for(fake.base_url, GRAPH_MEETING_MODE="onlineMeetings"))
        try:
            assert await adapters.check() == []
            assert adapters.organizer is not None and adapters.organizer.known == object_id(ORGANIZER)
            await adapters.conferencing.create_meeting(bridge_request())  # type: ignore[union-attr]
            assert len(fake.requests_to(f"/users/{ORGANIZER}", "GET")) == 2  # the mailbox check + the look-up
        finally:
            await adapters.aclose()
        wrong = build_graph_adapters(settings_for(fake.base_url, GRAPH_MEETING_MODE="onlineMeetings",
                                                  GRAPH_ORGANIZER_USER_ID="gone@contoso.com"))
        try:
            problems = await wrong.check()
        finally:
            await wrong.aclose()
    assert any("GRAPH_ORGANIZER_USER_ID gone@contoso.com" in p and "object id" in p for p in problems), problems


async def test_the_fake_refuses_a_upn_for_online_meetings(graph: FakeGraph) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{graph.base_url}/users/{ORGANIZER}/onlineMeetings/createOrGet",
                                 json={"externalId": "INC-1"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 404 and "object id" in answer.json()["error"]["message"]


def test_missing_settings_leave_adapters_out_with_reasons() -> None:
    nothing = build_graph_adapters(GraphSettings(_env_file=None))  # type: ignore[call-arg]
    assert nothing.conferencing is None and nothing.mailer is None and nothing.calling is None
    assert "GRAPH_ACCESS_TOKEN" in nothing.not_configured["mailer"]

    partial = GraphSettings(_env_file=None, AZURE_CLIENT_SECRET="s", AZURE_CLIENT_ID="c")  # type: ignore[call-arg]
    assert partial.missing() == ["AZURE_CLIENT_SECRET is set but AZURE_TENANT_ID is empty"]
    assert "GRAPH_ORGANIZER_USER_ID" in " ".join(
        GraphSettings(_env_file=None, GRAPH_ACCESS_TOKEN="t").missing("conferencing"))  # type: ignore[call-arg]


def test_credential_choice_and_https_rule() -> None:
    def kind(**values: Any) -> str:
        return GraphSettings(_env_file=None, **values).credential_kind  # type: ignore[call-arg]

    assert kind(AZURE_TENANT_ID="t", AZURE_CLIENT_ID="c", AZURE_CLIENT_SECRET="s") == "client-secret"
    assert kind(AZURE_CLIENT_ID="c") == "managed-identity"
    assert kind(GRAPH_USE_MANAGED_IDENTITY="true") == "managed-identity"
    assert kind(AZURE_CLIENT_ID="c", GRAPH_USE_MANAGED_IDENTITY="false") == "none"
    remote_http = GraphSettings(_env_file=None, GRAPH_BASE_URL="http://fakegraph:8080/v1.0/",  # type: ignore[call-arg]
                                AZURE_TENANT_ID="t", AZURE_CLIENT_ID="c", AZURE_CLIENT_SECRET="s")
    assert "plain http" in remote_http.missing()[0]
    assert GraphSettings(_env_file=None, GRAPH_BASE_URL="https://graph.microsoft.us/v1.0/").scope == (  # type: ignore[call-arg]
        "https://graph.microsoft.us/.default")
