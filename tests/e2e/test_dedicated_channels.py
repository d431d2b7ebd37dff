"""A channel of its own for a big incident (`channels.dedicated_for`), end to end: Teams activities
to /api/messages, Graph is the local FakeGraph (which refuses what Graph refuses), posts go to the
fake Bot Connector (which refuses posts in an archived channel, as Teams does)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from pydantic import SecretStr

from bot.wiring import OutsideSettings
from services.config import parse_config
from services.doctor import Subjects, doctor
from services.freshdesk.settings import FreshdeskSettings
from services.graph import GraphSettings
from services.notify.sms.settings import SmsSettings
from services.notify.voice.settings import VoiceSettings
from services.settings import Settings
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack
from tests.e2e.helpers import act, card_text, declare, eventually, heading, settled
from tests.e2e.test_bridge import start_with_defaults
from tests.e2e.test_doctor import graph_token
from tests.fakes.graph import FakeGraph
from tests.teams_activities import CHANNEL_ID, TEAM_ID, Users, conversation_update_bot_added

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*")

GROUP_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, TEAM_ID))  # the aadGroupId Teams names in the install
CONFIG = parse_config({**E2E_CONFIG, "channels": {"dedicated_for": ["P1"]}})
ALICE, BOB = Users.ALICE, Users.BOB


def graph_settings(fake: FakeGraph) -> GraphSettings:
    return GraphSettings(_env_file=None, base_url=fake.base_url, access_token="t",  # type: ignore[call-arg]
                         organizer_user_id="bridge@ourco.example", mail_sender="", tenant_id="", client_id="",
                         client_secret="", max_retries=0, retry_backoff_seconds=0.01, timeout_seconds=5)


@pytest_asyncio.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        yield fake


@pytest_asyncio.fixture
async def stack(database_url: str, graph: FakeGraph) -> AsyncIterator[Stack]:
    outside = OutsideSettings(graph=graph_settings(graph), sms=SmsSettings(provider=""))
    stack = await start_stack(database_url, CONFIG, outside=outside)
    graph.on_archive = stack.teams.archive_channel
    status, _ = await stack.send(conversation_update_bot_added(service_url=stack.url, channel_id=CHANNEL_ID))
    assert status in (200, 201)
    yield stack
    await stack.beacon.stop()
    await stack.teams.stop()


def channels(graph: FakeGraph) -> list[dict[str, Any]]:
    return graph.channels.get(GROUP_ID, [])


def listings(graph: FakeGraph) -> list[Any]:
    """The times Beacon asked Graph for the team's whole list of channels."""
    return [r for r in graph.requests if r.method == "GET" and r.path.endswith(f"/teams/{GROUP_ID}/channels")]


async def declare_p1(stack: Stack, title: str = "Payments API down") -> Any:
    _, root = await declare(stack, title, impact="high", urgency="high", commander=BOB.aad_object_id)
    await settled(stack)
    return root


async def test_a_p1_gets_its_own_channel_with_its_card_and_a_pointer(stack: Stack, graph: FakeGraph) -> None:
    root = await declare_p1(stack)

    [channel] = channels(graph)
    assert channel["displayName"] == "inc-1-payments-api-down"
    assert channel["membershipType"] == "standard"
    [first] = stack.teams.posted(channel["id"])
    assert "INC-1" in card_text(first.cards[0])
    assert f"<at>{BOB.name}</at>" in (first.text or "")
    mentioned = [e["mentioned"]["id"] for e in first.activity.get("entities") or [] if e.get("type") == "mention"]
    assert mentioned == [BOB.aad_object_id]
    pointer = [m for m in stack.teams.thread(root.id) if "inc-1-payments-api-down" in (m.text or "")]
    assert len(pointer) == 1 and channel["webUrl"] in (pointer[0].text or "")
    async with stack.beacon.deps.uow() as uow:
        said = [e.summary for e in await uow.timeline.of(1)]
    assert "channel inc-1-payments-api-down made for the incident" in said
    assert len(listings(graph)) == 1  # one list both looks for a channel made before and counts the team's


async def test_the_bridge_join_card_is_posted_in_the_channel_too(stack: Stack, graph: FakeGraph) -> None:
    root = await declare_p1(stack)
    [channel] = channels(graph)
    await start_with_defaults(stack, root)
    await settled(stack)

    in_thread = [m for m in stack.teams.thread(root.id) if any("Bridge open for" in card_text(c) for c in m.cards)]
    in_channel = [m for m in stack.teams.posted(channel["id"])
                  if any("Bridge open for" in card_text(c) for c in m.cards)]
    assert len(in_thread) == 1 and len(in_channel) == 1
    assert in_channel[0].cards == in_thread[0].cards


async def test_a_p3_gets_no_channel(stack: Stack, graph: FakeGraph) -> None:
    await declare(stack, "Portal slow", impact="medium", urgency="medium", service="web-portal")
    await settled(stack)

    assert channels(graph) == [] and graph.requests_to("/channels") == []


async def test_reassessed_to_p1_gets_a_channel(stack: Stack, graph: FakeGraph) -> None:
    _, root = await declare(stack, "Portal slow", impact="medium", urgency="medium", service="web-portal")
    await settled(stack)
    await act(stack, root, "incident.reassess", impact="high", urgency="high")
    await settled(stack)

    assert [c["displayName"] for c in channels(graph)] == ["inc-1-portal-slow"]


async def test_a_retry_after_the_channel_was_made_makes_no_second_one(stack: Stack, graph: FakeGraph) -> None:
    # Graph makes the channel, but the answer is lost: the outbox tries again.
    graph.reset_next(1, path_contains="/channels", after_handling=True, method="POST")
    await declare_p1(stack)

    [channel] = channels(graph)
    assert channel["displayName"] == "inc-1-payments-api-down"
    made = graph.requests_to(f"/teams/{GROUP_ID}/channels", "POST")
    assert len(made) == 1 and made[0].reset  # made once, though Beacon never heard the answer
    assert len(listings(graph)) == 2  # once per attempt: the retry's list finds the channel
    assert len(stack.teams.posted(channel["id"])) == 1


async def test_a_name_taken_by_another_channel_gets_a_suffix(stack: Stack, graph: FakeGraph) -> None:
    graph.channels[GROUP_ID] = [{"id": "19:other@thread.tacv2", "displayName": "inc-1-payments-api-down",
                                 "description": "someone's own", "isArchived": False, "webUrl": ""}]
    await declare_p1(stack)

    assert [c["displayName"] for c in channels(graph)] == ["inc-1-payments-api-down", "inc-1-payments-api-down-2"]


async def test_close_archives_the_channel_and_nothing_more_is_posted_there(stack: Stack, graph: FakeGraph) -> None:
    root = await declare_p1(stack)
    [channel] = channels(graph)
    await act(stack, root, "incident.resolve", from_user=BOB, summary="Rolled back the deploy")
    await settled(stack)
    await act(stack, root, "incident.close", from_user=BOB)
    await eventually(lambda: channel["isArchived"], what="the channel archived")
    await settled(stack)

    [card] = stack.teams.posted(channel["id"])
    assert heading(card.cards[0]) == "P1 · INC-1 · Closed"  # the card there shows the end before the archive
    assert len(graph.requests_to(f"/channels/{channel['id']}/archive", "POST")) == 1
    assert graph.requests_to(f"/channels/{channel['id']}", "GET") == []  # archived without reading it first
    refused = [r for r in stack.teams.requests if r.status == 403]
    assert refused == []  # Beacon stops posting in the channel once it is archived


async def test_without_the_permission_no_channel_and_the_fix_is_told(stack: Stack, graph: FakeGraph) -> None:
    graph.channel_roles = {"ChannelSettings.ReadWrite.All"}
    await declare_p1(stack)

    assert channels(graph) == []
    async with stack.beacon.deps.uow() as uow:
        [row] = [r for r in await uow.outbox.of_incident(1) if r.kind == "graph.make_channel"]
    assert row.status == "failed" and "403" in row.last_error
    assert "fix: consent to Channel.Create.Group when installing the Teams app" in row.last_error


async def test_doctor_and_metrics_show_the_channels_in_use(stack: Stack, graph: FakeGraph, tmp_path: Path) -> None:
    graph.channels[GROUP_ID] = [{"id": f"19:c{i}@thread.tacv2", "displayName": f"room {i}", "description": "",
                                 "isArchived": False, "webUrl": ""} for i in range(3)]
    await declare_p1(stack)

    status, text = await stack.beacon.get_text("/metrics")
    assert status == 200
    assert f'beacon_team_channels_in_use{{team="{TEAM_ID}"}} 4.0' in text
    assert f'beacon_dedicated_channels{{state="open",team="{TEAM_ID}"}} 1.0' in text
    assert len(listings(graph)) == 1  # the count comes from the list that looked for the channel

    code, said = await run_doctor(stack, graph, tmp_path)
    assert "OK   dedicated channels: team Operations: 4 channels in use of 1000" in said, said
    assert "Beacon made 1 (0 archived)" in said


async def test_doctor_warns_before_the_team_runs_out_of_channels(stack: Stack, graph: FakeGraph,
                                                                 tmp_path: Path) -> None:
    graph.channels[GROUP_ID] = [{"id": f"19:c{i}@thread.tacv2", "displayName": f"room {i}", "description": "",
                                 "isArchived": False, "webUrl": ""} for i in range(950)]
    graph.channel_roles = {"Channel.Create.Group"}  # ChannelSettings.ReadWrite.All not granted

    code, said = await run_doctor(stack, graph, tmp_path)
    assert code == 1
    assert "FAIL dedicated channels: team Operations: cannot list its channels" in said, said
    graph.channel_roles.add("ChannelSettings.ReadWrite.All")
    code, said = await run_doctor(stack, graph, tmp_path)
    assert "WARN dedicated channels: team Operations: 950 channels in use of 1000" in said, said


async def test_doctor_needs_the_permission_to_list_and_archive_channels(stack: Stack, graph: FakeGraph,
                                                                         tmp_path: Path) -> None:
    roles = ["User.Read.All", "Calendars.ReadWrite"]
    code, said = await run_doctor(stack, graph, tmp_path, token=graph_token(roles))
    assert code == 1
    assert ("FAIL Graph permission: ChannelSettings.ReadWrite.All is not granted (needed for listing and archiving "
            "incident channels (channels.dedicated_for))") in said, said
    code, said = await run_doctor(stack, graph, tmp_path, token=graph_token([*roles, "ChannelSettings.ReadWrite.All"]))
    assert "OK   Graph permissions: the token carries User.Read.All, Calendars.ReadWrite, " \
           "ChannelSettings.ReadWrite.All" in said, said


async def run_doctor(stack: Stack, graph: FakeGraph, tmp_path: Path, token: str = "t") -> tuple[int, str]:
    config = tmp_path / "beacon.yaml"
    config.write_text(yaml.safe_dump({"channels": {"dedicated_for": ["P1"]}}), encoding="utf-8")
    subjects = Subjects(Settings(database_url=stack.beacon.settings.database_url, app_id="",
                                 config_path=str(config)),
                        graph_settings(graph).model_copy(update={"access_token": SecretStr(token)}),
                        FreshdeskSettings(url="", api_key=""), SmsSettings(provider=""),
                        voice=VoiceSettings(_env_file=None, provider=""))  # type: ignore[call-arg]
    out = io.StringIO()
    code = await doctor(subjects, out)
    return code, out.getvalue()
