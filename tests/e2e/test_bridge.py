"""Issue 4 end to end: bridges through Microsoft Graph, over real HTTP. Teams activities go to
/api/messages, Graph is the local FakeGraph, Graph's call notifications go to /api/calls; on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.wiring import OutsideSettings
from services.config import parse_config
from services.graph import GraphSettings
from services.notify.sms.settings import SmsSettings
from tests.cardtext import input_values
from tests.e2e.conftest import Stack, start_stack
from tests.e2e.helpers import act, card_text, declare, refused, settled
from tests.fakes._recording import Message
from tests.fakes.graph import FakeGraph
from tests.teams_activities import TENANT_ID, Users, card_action_invoke

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*")

APP_ID = "dd3885da-f9ab-486b-bfae-85de3d445555"
ORGANIZER = "bridge@ourco.example"
PUBLIC_URL = "https://beacon.ourco.example"
ALICE, BOB, CAROL = Users.ALICE, Users.BOB, Users.CAROL
CLIENT_CONTACT, ACCOUNT_OWNER = "casey@contoso-client.example", "avery@ourco.example"
MICROSOFT, OTHER_VENDOR, TEAM_ADDRESS = "azure-support@microsoft.example", "noc@acme.example", "payments@ourco.example"
CONFIG = parse_config({
    "services": [{"name": "payments-api", "team": "payments", "criticality": "high"}],
    "directory": {
        "teams": [{"name": "payments", "email": TEAM_ADDRESS, "members": [
            {"name": BOB.name, "aad_object_id": BOB.aad_object_id, "email": BOB.email}]}],
        "clients": [{"name": "Contoso", "account_owner": {"name": "Avery Owner", "email": ACCOUNT_OWNER},
                     "contacts": [{"name": "Casey Contoso", "email": CLIENT_CONTACT}]}],
        "vendors": [{"name": "Microsoft Support", "kind": "hosting",
                     "contacts": [{"name": "Microsoft Support", "email": MICROSOFT}]},
                    {"name": "Acme CDN", "contacts": [{"name": "Acme NOC", "email": OTHER_VENDOR}]}],
    },
})


def graph_settings(fake: FakeGraph, **values: Any) -> GraphSettings:
    defaults: dict[str, Any] = {
        "base_url": fake.base_url, "access_token": "t", "organizer_user_id": ORGANIZER, "mail_sender": "",
        "bot_app_id": APP_ID, "tenant_id": "", "client_id": "", "client_secret": "", "max_retries": 0,
        "retry_backoff_seconds": 0.01, "timeout_seconds": 5}
    return GraphSettings(_env_file=None, **{**defaults, **values})  # type: ignore[call-arg]


@pytest_asyncio.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        yield fake


@pytest_asyncio.fixture
async def bridged(database_url: str, graph: FakeGraph) -> AsyncIterator[Any]:
    """Start a stack with Graph pointed at the fake: `await bridged(meeting_mode=..., public_url=...)`."""
    stacks: list[Stack] = []

    async def make(public_url: str = PUBLIC_URL, **graph_values: Any) -> Stack:
        outside = OutsideSettings(graph=graph_settings(graph, **graph_values), sms=SmsSettings(provider=""))
        stacks.append(await start_stack(database_url, CONFIG, outside=outside, public_url=public_url))
        return stacks[-1]

    yield make
    for stack in stacks:
        await stack.beacon.stop()
        await stack.teams.stop()


async def incident_with_people(stack: Stack, **form: Any) -> Message:
    """INC-1 on payments-api, Alice in command, Bob (in the directory) and Carol (known to Teams
    only) as responders."""
    stack.teams.add_member(CAROL)
    _, root = await declare(stack, "Payments API down", **form)
    await act(stack, root, "incident.take_command")
    await act(stack, root, "incident.assign", responders=f"{BOB.aad_object_id},{CAROL.aad_object_id}")
    await settled(stack)
    return root


async def start_with_defaults(stack: Stack, root: Message, **changes: str) -> dict[str, Any]:
    picker = await act(stack, root, "bridge.form")
    assert "Start a bridge for INC-1" in card_text(picker)
    values: dict[str, Any] = {**input_values(picker), **changes}
    return await act(stack, root, "bridge.start", **values)


def join_cards(stack: Stack, root: Message) -> list[dict[str, Any]]:
    return [c for m in stack.teams.thread(root.id) for c in m.cards if "Bridge open for" in card_text(c)]


async def wait_for_thread_card(stack: Stack, root: Message, words: str) -> dict[str, Any]:
    def find(record: Any) -> dict[str, Any] | None:
        return next((c for m in record.thread(root.id) for c in m.cards if words in card_text(c)), None)

    return await stack.teams.wait_for(find, timeout=20)


async def timeline(stack: Stack) -> list[Any]:
    async with stack.beacon.deps.uow() as uow:
        return await uow.timeline.of(1)


def attendees(request: Any) -> set[str]:
    return {a["emailAddress"]["address"] for a in request.body["attendees"]}


def lookup_address(person: Any) -> str:
    return f"{person.aad_object_id}@contoso.com"  # what FakeGraph's GET /users/{id} answers


async def test_customer_incident_bridge_invites_client_microsoft_team_and_responders(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack, client="Contoso")
    assert "Start bridge" in card_text(root.cards[0])
    answer = await start_with_defaults(stack, root)
    assert "Creating the bridge" in card_text(answer) and "being created" in card_text(answer)

    join = await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    [create] = graph.requests_to(f"/users/{ORGANIZER}/events", "POST")
    assert attendees(create) == {CLIENT_CONTACT, ACCOUNT_OWNER, MICROSOFT, TEAM_ADDRESS, BOB.email,
                                 lookup_address(ALICE), lookup_address(CAROL)}  # not the unticked vendor
    assert create.body["isOnlineMeeting"] is True and create.body["onlineMeetingProvider"] == "teamsForBusiness"
    event = next(iter(graph.events.values()))
    join_url = event["onlineMeeting"]["joinUrl"]
    assert {"type": "Action.OpenUrl", "title": "Join bridge", "url": join_url} in join["actions"]
    assert "+1 555 0100,,123456789#" in card_text(join)
    await settled(stack)
    assert join_url in card_text(root.cards[0]) and "Bridge dial-in" in card_text(root.cards[0])
    created = next(e for e in await timeline(stack) if e.kind == "bridge_created")
    assert "Casey Contoso" in created.summary and set(created.after["invited"]) == attendees(create)
    stack.every_card_is_valid()


async def test_a_second_click_shows_the_existing_bridge_and_creates_nothing(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack)
    first = await act(stack, root, "bridge.form")
    await start_with_defaults(stack, root)
    await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    again = await act(stack, root, "bridge.form")
    assert "Invite more" in card_text(again) and "Join bridge" in card_text(again)
    replay = await act(stack, root, "bridge.start", **input_values(first))  # the old picker, submitted again
    assert "already has its bridge" in card_text(replay)
    await settled(stack)
    assert len(graph.requests_to("/events", "POST")) == 1 and len(join_cards(stack, root)) == 1
    assert [e.kind for e in await timeline(stack)].count("bridge_requested") == 1


async def test_two_people_starting_the_bridge_at_once_get_one_meeting(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack)
    inputs = input_values(await act(stack, root, "bridge.form"))
    answers = await asyncio.gather(act(stack, root, "bridge.start", **inputs),
                                   act(stack, root, "bridge.start", from_user=BOB, **inputs))
    assert sum("already has its bridge" in card_text(a) for a in answers) == 1  # the other one started it
    await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    await settled(stack)
    assert len(graph.requests_to("/events", "POST")) == 1 and len(join_cards(stack, root)) == 1
    assert [e.kind for e in await timeline(stack)].count("bridge_requested") == 1


async def test_internal_incident_bridge_and_typed_addresses_are_checked(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack)
    wrong = await start_with_defaults(stack, root, invite_extra="ops@partner.example, not-an-address")
    assert "not an email address: not-an-address" in card_text(wrong)
    assert "bridge_requested" not in [e.kind for e in await timeline(stack)]
    await start_with_defaults(stack, root, invite_extra="ops@partner.example")
    await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    [create] = graph.requests_to("/events", "POST")
    assert attendees(create) == {MICROSOFT, TEAM_ADDRESS, BOB.email, lookup_address(ALICE), lookup_address(CAROL),
                                 "ops@partner.example"}  # no client: nobody of Contoso


async def test_throttled_then_created_makes_one_meeting(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack)
    graph.throttle(1, retry_after=0, path_contains="/events")
    await start_with_defaults(stack, root)
    await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    await settled(stack)
    assert [r.status for r in graph.requests_to("/events", "POST")] == [429, 201]
    assert len(graph.events) == 1 and len(join_cards(stack, root)) == 1


async def test_access_policy_refusal_is_shown_with_its_fix_and_the_incident_carries_on(bridged, graph):
    stack = await bridged(meeting_mode="onlineMeetings")
    root = await incident_with_people(stack, client="Contoso")
    graph.deny_meeting_policy(path_contains="createOrGet")
    await start_with_defaults(stack, root)
    failure = await wait_for_thread_card(stack, root, "could not be created")
    assert "infra/graph-permissions.md#application-access-policy" in card_text(failure)
    assert "not authorized to Create meeting" in card_text(failure)
    failed = next(e for e in await timeline(stack) if e.kind == "bridge_failed")
    assert "application access policy" in failed.summary and failed.after["status"] == 403
    await settled(stack)
    assert "could not be created" in card_text(root.cards[0]) and "Start bridge" in card_text(root.cards[0])
    noted = await act(stack, root, "incident.note", note="Using the phone bridge meanwhile")
    assert "That did not work" not in card_text(noted)
    assert any(e.kind == "note" and "phone bridge" in e.summary for e in await timeline(stack))

    await start_with_defaults(stack, root)  # the admin granted the policy; try again
    await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    assert len(graph.online_meetings) == 1
    [invitation] = graph.sent_mail()  # standalone meetings: Beacon mails the link itself
    assert {CLIENT_CONTACT, MICROSOFT} <= set(invitation.to)
    stack.every_card_is_valid()


async def test_invite_more_adds_attendees_to_the_meeting(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack, client="Contoso")
    await start_with_defaults(stack, root)
    await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    answer = await act(stack, root, "bridge.invite", invite_vendor=f"mail:{OTHER_VENDOR}",
                       invite_extra="late@contoso-client.example")
    assert "Inviting Acme NOC, late@contoso-client.example" in card_text(answer)
    await settled(stack)
    [patch] = graph.requests_to("/events/", "PATCH")
    assert {OTHER_VENDOR, "late@contoso-client.example", CLIENT_CONTACT} <= attendees(patch)
    assert any("invited Acme NOC" in (m.text or "") for m in stack.teams.thread(root.id))
    assert "bridge_invited" in [e.kind for e in await timeline(stack)]


def notification(call_id: str, state: str | None = None, *, participants: list[Any] | None = None) -> dict[str, Any]:
    """Graph's commsNotifications, shaped as the samples in the Graph docs (facts §10.6, §10.7)."""
    item: dict[str, Any]
    if participants is not None:
        item = {"@odata.type": "#microsoft.graph.commsNotification", "changeType": "updated",
                "resourceUrl": f"/communications/calls/{call_id}/participants",
                "resourceData": [{"@odata.type": "#microsoft.graph.participant", "id": f"p-{p.aad_object_id}",
                                  "info": {"identity": {"user": {"id": p.aad_object_id, "displayName": p.name}}}}
                                 for p in participants]}
    else:
        item = {"@odata.type": "#microsoft.graph.commsNotification", "changeType": "updated",
                "resourceUrl": f"/communications/calls/{call_id}", "callbackUri": f"{PUBLIC_URL}/api/calls",
                "resourceData": {"@odata.type": "#microsoft.graph.call", "state": state, "id": call_id}}
    return {"@odata.type": "#microsoft.graph.commsNotifications", "value": [item]}


async def ring_bob_and_carol(stack: Stack, root: Message, graph: FakeGraph) -> str:
    await start_with_defaults(stack, root)
    await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    bridge = await act(stack, root, "bridge.form")
    assert "Ring responders" in card_text(bridge) and "cannot be rung" in card_text(bridge)
    answer = await act(stack, root, "bridge.ring", ring=input_values(bridge)["ring"])
    assert f"Ringing Bob Singh, {CAROL.name}" in card_text(answer)
    await settled(stack)
    [call_id] = graph.calls
    return call_id


async def test_ring_responders_places_a_service_hosted_group_call(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack)
    call_id = await ring_bob_and_carol(stack, root, graph)
    [request] = graph.requests_to("/communications/calls", "POST")
    body = request.body
    assert body["mediaConfig"]["@odata.type"] == "#microsoft.graph.serviceHostedMediaConfig"
    assert [t["identity"]["user"]["id"] for t in body["targets"]] == [BOB.aad_object_id, CAROL.aad_object_id]
    assert (body["callbackUri"], body["tenantId"]) == (f"{PUBLIC_URL}/api/calls", TENANT_ID)
    assert body["source"]["identity"]["application"]["id"] == APP_ID and body["requestedModalities"] == ["audio"]

    for payload in (notification(call_id, "establishing"),  # the state Beacon recorded when it rang
                    notification(call_id, "established"),
                    notification(call_id, "establishing"),  # late and out of order: ignored
                    notification(call_id, participants=[BOB]), notification(call_id, participants=[BOB, CAROL]),
                    notification(call_id.upper().replace("-", ""), "terminated")):
        status, answer = await stack.beacon.post("/api/calls", payload)
        assert status == 202, answer
    events = [e for e in await timeline(stack) if e.kind in ("call_started", "call_state", "call_participants")]
    assert [e.summary for e in events][1:] == [
        "Teams call established", "Bob Singh joined the Teams call",
        f"{CAROL.name} joined the Teams call", "Teams call ended"]
    assert events[0].kind == "call_started" and "rang Bob Singh" in events[0].summary


async def test_notifications_that_come_before_the_call_is_stored_are_applied_when_it_is(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack)
    graph.notify_before_answer(stack.beacon.url)  # Graph posts to /api/calls, then answers the POST
    call_id = await ring_bob_and_carol(stack, root, graph)
    assert graph.early_notification_statuses == [202, 202]
    events = [e for e in await timeline(stack) if e.kind in ("call_started", "call_state")]
    assert [e.kind for e in events] == ["call_started", "call_state"]
    assert events[1].summary == "Teams call established" and events[1].after["call_id"] == call_id
    status, answer = await stack.beacon.post("/api/calls", notification(call_id, "terminated"))
    assert status == 202 and answer["held"] == 0
    assert [e.summary for e in await timeline(stack) if e.kind == "call_state"][-1] == "Teams call ended"


async def test_a_notification_about_a_call_not_stored_yet_is_held_and_malformed_ones_get_4xx(bridged, graph):
    stack = await bridged()
    root = await incident_with_people(stack)
    call_id = await ring_bob_and_carol(stack, root, graph)
    before = await timeline(stack)
    unknown = notification("2e1a0b00-2db4-4022-9570-243709c565ab", "established")
    got, answer = await stack.beacon.post("/api/calls", unknown)
    assert (got, answer["held"], answer["recorded"]) == (202, 1, 0)
    cases: list[tuple[Any, int, str]] = [
        ({"value": []}, 400, "non-empty list"), ([], 400, "JSON object"),
        ({"value": [{"changeType": "updated", "resourceUrl": "/users/x", "resourceData": {}}]}, 400, "resourceUrl"),
        ({"value": [{"changeType": "exploded", "resourceUrl": f"/communications/calls/{call_id}"}]}, 400,
         "changeType"),
        ({"value": [notification(call_id, participants=[])["value"][0] | {"resourceData": {}}]}, 400,
         "list of participants"),
    ]
    for body, status, words in cases:
        got, answer = await stack.beacon.post("/api/calls", body)
        assert (got, words in answer["error"]) == (status, True), (body, answer)
    got, answer = await stack.beacon.post("/api/calls", raw=b"{not json")
    assert got == 400 and "not valid JSON" in answer["error"]
    got, answer = await stack.beacon.post("/api/calls", notification(call_id, "established"),
                                          headers={"Authorization": "Bearer forged"})
    assert got == 401  # local mode (no MicrosoftAppId): tokens cannot be checked, so none is accepted
    assert len(await timeline(stack)) == len(before)


async def test_ring_explains_that_it_needs_the_public_url(bridged, graph):
    stack = await bridged(public_url="")
    root = await incident_with_people(stack)
    await start_with_defaults(stack, root)
    await wait_for_thread_card(stack, root, "Bridge open for INC-1")
    bridge = await act(stack, root, "bridge.form")
    assert "needs BEACON_PUBLIC_URL" in card_text(bridge) and "Ring now" not in card_text(bridge)
    answer = await act(stack, root, "bridge.ring", ring=BOB.aad_object_id)
    assert "needs BEACON_PUBLIC_URL" in card_text(answer)
    assert graph.requests_to("/communications/calls") == []


async def test_without_graph_settings_the_bridge_is_recorded_as_not_sent(stack):
    _, root = await declare(stack, "Payments API down")
    picker = await act(stack, root, "bridge.form")
    assert "Microsoft Graph is not configured" in card_text(picker)
    await act(stack, root, "bridge.start", **input_values(picker))
    card = await wait_for_thread_card(stack, root, "No bridge: Microsoft Graph is not configured")
    assert "GRAPH_ORGANIZER_USER_ID" in card_text(card)
    await settled(stack)
    skipped = [e for e in await timeline(stack) if e.kind == "delivery_skipped"]
    assert any(e.summary == "not sent: Microsoft Graph not configured" for e in skipped)
    # Responders are not told about settings they cannot change, nor offered a bridge that cannot be.
    assert "Graph" not in card_text(root.cards[0]) and "Start bridge" not in card_text(root.cards[0])
    stack.every_card_is_valid()


async def test_a_drill_gets_no_bridge(stack):
    _, root = await declare(stack, "Practice outage", drill="true")
    assert "Start bridge" not in card_text(root.cards[0])
    # refused as Teams' error: the clicker keeps the incident card, and reads why
    message = await refused(stack, root, "bridge.form")
    assert message.startswith("DRILL INC-1 is a drill: Beacon creates no bridge"), message
    await settled(stack)
    assert not [e for e in await timeline(stack) if e.kind.startswith("bridge")]


async def test_a_bridge_click_whose_data_names_no_incident_is_refused_and_the_card_stays(stack):
    _, root = await declare(stack, "Payments API down")
    for verb in ("bridge.form", "bridge.start", "bridge.ring"):
        message = await stack.invoke_refused(card_action_invoke(verb, {"incidentId": "seven"}, reply_to_id=root.id,
                                                                service_url=stack.url))
        assert message == "incidentId must be a number", verb

