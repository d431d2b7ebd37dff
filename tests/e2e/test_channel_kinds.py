"""Private and shared channels: Beacon's Teams app works in standard channels only (it does not
declare supportsChannelFeatures), so Teams refuses its cards in a private or shared channel. A
configured one is refused by the doctor and named in the start-up log with the fix, from what Graph
says of the channel (GET /teams/{group id}/channels/{id}, membershipType) in the team Beacon was
installed in through /api/messages."""

from __future__ import annotations

import copy
import logging
import uuid
from pathlib import Path
from typing import Any

import yaml

from bot.wiring import OutsideSettings
from services.config import load_config, parse_config
from services.doctor import check_channel_kinds
from services.graph import GraphSettings
from services.notify.sms.settings import SmsSettings
from services.settings import Settings
from tests.e2e.conftest import E2E_CONFIG, start_stack
from tests.e2e.helpers import eventually, settled
from tests.fakes.graph import FakeGraph
from tests.teams_activities import TEAM_ID, installation_update

GROUP_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, TEAM_ID))  # channelData.team.aadGroupId
PRIVATE = "19:5e1f0c2a9b7d4e3f8a6b1c0d2e4f6a8b@thread.tacv2"
STANDARD = "19:7a2b4c6d8e0f41a3b5c7d9e1f3a5b7c9@thread.tacv2"


def config(channel: str) -> dict[str, Any]:
    return {**copy.deepcopy(E2E_CONFIG), "channels": {"incidents_channel": channel}}


def graph_with_channels(graph: FakeGraph) -> FakeGraph:
    graph.channels[GROUP_ID] = [
        {"id": STANDARD, "displayName": "Incidents", "membershipType": "standard"},
        {"id": PRIVATE, "displayName": "Leadership", "membershipType": "private"},
    ]
    return graph


def graph_settings(graph: FakeGraph) -> GraphSettings:
    return GraphSettings(base_url=graph.base_url, access_token="t", organizer_user_id="", mail_sender="",
                         tenant_id="", client_id="", client_secret="")


async def installed(database_url: str, graph: FakeGraph, channel: str) -> None:
    """Beacon installed in the team through /api/messages (Teams names the team's group id there)."""
    outside = OutsideSettings(graph=graph_settings(graph), sms=SmsSettings(provider=""))
    stack = await start_stack(database_url, parse_config(config(channel)), outside=outside)
    try:
        await stack.send(installation_update(service_url=stack.url))
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def doctor_lines(database_url: str, tmp_path: Path, graph: FakeGraph, channel: str) -> list[str]:
    path = tmp_path / "beacon.yaml"
    path.write_text(yaml.safe_dump(config(channel)), encoding="utf-8")
    checks = await check_channel_kinds(Settings(database_url=database_url, config_path=str(path)),
                                       graph_settings(graph), load_config(path))
    return [check.line() for check in checks]


async def test_the_doctor_refuses_a_private_incidents_channel_with_the_fix(database_url, tmp_path):
    async with FakeGraph() as graph:
        graph_with_channels(graph)
        await installed(database_url, graph, PRIVATE)
        [line] = await doctor_lines(database_url, tmp_path, graph, PRIVATE)
        assert line.startswith(f"FAIL Teams channel: channels.incidents_channel ({PRIVATE}) is a private channel"), line
        assert "Teams refuses every card Beacon posts there" in line
        assert "fix: set channels.incidents_channel to a standard channel" in line
        asked = graph.requests_to(f"/teams/{GROUP_ID}/channels/{PRIVATE}", "GET")
        assert asked and "membershipType" in asked[0].query.get("$select", "")


async def test_a_shared_channel_is_refused_and_a_standard_one_is_ok(database_url, tmp_path):
    async with FakeGraph() as graph:
        graph_with_channels(graph)
        await installed(database_url, graph, STANDARD)
        assert await doctor_lines(database_url, tmp_path, graph, STANDARD) == [
            "OK   Teams channel: channels.incidents_channel is a standard channel of team "
            f"{TEAM_ID}"]
        graph.channels[GROUP_ID][0]["membershipType"] = "shared"
        [line] = await doctor_lines(database_url, tmp_path, graph, STANDARD)
        assert line.startswith("FAIL Teams channel: channels.incidents_channel") and "is a shared channel" in line


async def test_without_the_permission_the_doctor_says_what_to_grant(database_url, tmp_path):
    async with FakeGraph() as graph:
        graph_with_channels(graph)
        await installed(database_url, graph, PRIVATE)
        graph.fail_next(1, 403, code="ErrorAccessDenied", message="Insufficient privileges to complete the operation.",
                        path_contains="/channels/")
        [line] = await doctor_lines(database_url, tmp_path, graph, PRIVATE)
        assert line.startswith("WARN Teams channel: cannot tell whether channels.incidents_channel is a standard "
                               "channel"), line
        assert "Channel.ReadBasic.All" in line


async def test_the_start_up_log_names_a_private_incidents_channel(database_url, caplog):
    async with FakeGraph() as graph:
        graph_with_channels(graph)
        await installed(database_url, graph, PRIVATE)
        caplog.set_level(logging.WARNING, logger="beacon.teams")
        await installed(database_url, graph, PRIVATE)  # a restart: the team is known from the first install
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and r.name == "beacon.teams"]
        assert any(f"channels.incidents_channel ({PRIVATE}) is a private channel" in m
                   and "fix: set channels.incidents_channel to a standard channel" in m for m in errors), errors


async def test_an_install_next_to_a_private_incidents_channel_is_logged_with_the_fix(database_url, caplog):
    """Beacon started before it was installed anywhere: the install itself has the channels checked."""
    caplog.set_level(logging.WARNING, logger="beacon.teams")
    async with FakeGraph() as graph:
        graph_with_channels(graph)
        outside = OutsideSettings(graph=graph_settings(graph), sms=SmsSettings(provider=""))
        stack = await start_stack(database_url, parse_config(config(PRIVATE)), outside=outside)
        try:
            assert not graph.requests_to("/channels/", "GET")  # nothing to ask before an install
            await stack.send(installation_update(service_url=stack.url))
            await settled(stack)
        finally:
            await stack.beacon.stop()
            await stack.teams.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and r.name == "beacon.teams"]
    assert [m for m in errors if f"channels.incidents_channel ({PRIVATE}) is a private channel" in m], errors


async def test_an_install_has_only_its_own_team_asked(database_url):
    """A channel Teams never showed Beacon may be in any installed team: start-up asks each, but an
    install in another team asks Graph about that team only, not again about every team."""
    other_team = "19:b2c4e6a8d0f2b4c6e8a0c2e4a6b8d0f2@thread.tacv2"
    other_group = str(uuid.uuid5(uuid.NAMESPACE_URL, other_team))
    async with FakeGraph() as graph:
        graph_with_channels(graph)
        outside = OutsideSettings(graph=graph_settings(graph), sms=SmsSettings(provider=""))
        stack = await start_stack(database_url, parse_config(config(PRIVATE)), outside=outside)
        try:
            await stack.send(installation_update(service_url=stack.url))
            await settled(stack)  # the install's own check of the first team is done
        finally:
            await stack.beacon.stop()
            await stack.teams.stop()
        asked_before = len(graph.requests_to(f"/teams/{GROUP_ID}/channels/", "GET"))
        stack = await start_stack(database_url, parse_config(config(PRIVATE)), outside=outside)
        try:
            await eventually(lambda: len(graph.requests_to(f"/teams/{GROUP_ID}/channels/", "GET")) > asked_before,
                             timeout=60, what="the start-up check of the first team")
            seen = len(graph.requests)
            await stack.send(installation_update(service_url=stack.url, team_id=other_team))
            await settled(stack)
            await eventually(lambda: graph.requests_to(f"/teams/{other_group}/channels/", "GET"),
                             timeout=60, what="the new team's channel asked about")
        finally:
            await stack.beacon.stop()
            await stack.teams.stop()
    asked = [r.path for r in graph.requests[seen:] if "/channels" in r.path]
    assert asked and all(f"/teams/{other_group}/" in path for path in asked), asked
