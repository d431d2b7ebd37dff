"""Issue 17, installs: Beacon follows what Teams tells it about where it is installed. An incident
that could not be posted (no install yet, or Beacon removed from the team) is posted after the
install; a removal or a deleted team is forgotten, so nothing is sent there; the doctor and the
start-up log say whether each configured channel is in a team where Beacon is installed."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from services.config import load_config, parse_config
from services.doctor import check_teams_installs
from services.intake.settings import IntakeSettings
from services.settings import Settings
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack, unconfigured
from tests.e2e.helpers import card_text, incident_root, settled
from tests.e2e.test_alerts import BEARER, TOKEN, load
from tests.teams_activities import (
    CHANNEL_ID,
    TEAM_ID,
    conversation_update_bot_added,
    conversation_update_bot_removed,
    installation_update,
    team_event,
)

OTHER_CHANNEL = "19:0a1b2c3d4e5f40718293a4b5c6d7e8f9@thread.tacv2"


def config(channel: str = CHANNEL_ID) -> dict[str, Any]:
    return {**copy.deepcopy(E2E_CONFIG), "channels": {"incidents_channel": channel},
            "alert_routing": {"rules": [{"match": {"rule": "^Portal "}, "service": "web-portal"}]}}


@asynccontextmanager
async def beacon(database_url: str, channel: str = CHANNEL_ID) -> AsyncIterator[Stack]:
    outside = unconfigured()
    outside.extra["intake"] = IntakeSettings(_env_file=None, ALERTS_WEBHOOK_TOKEN=TOKEN)  # type: ignore[call-arg]
    stack = await start_stack(database_url, parse_config(config(channel)), outside=outside)
    try:
        yield stack
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def alert(stack: Stack, name: str = "azure_monitor_metric_sev1_fired", **essentials: Any) -> str:
    body = load(name)
    body["data"]["essentials"].update(essentials)
    status, answer = await stack.beacon.post("/api/alerts/azure-monitor", body, headers=BEARER)
    assert status == 200, answer
    return str(answer["alerts"][0]["incident"])


async def summaries(stack: Stack, incident_id: int) -> list[str]:
    async with stack.beacon.deps.uow() as uow:
        return [e.summary for e in await uow.timeline.of(incident_id)]


def roots_of(stack: Stack, number: int) -> list[Any]:
    return [m for m in stack.teams.posted(CHANNEL_ID)
            if m.kind == "root" and any(f"INC-{number}" in card_text(c) for c in m.cards)]


async def doctor_lines(database_url: str, tmp_path: Path, channel: str = CHANNEL_ID) -> list[str]:
    path = tmp_path / "beacon.yaml"
    path.write_text(yaml.safe_dump(config(channel)), encoding="utf-8")
    checks = await check_teams_installs(Settings(database_url=database_url, config_path=str(path)), load_config(path))
    return [check.line() for check in checks]


async def test_an_alert_before_any_install_is_posted_once_beacon_is_installed(database_url):
    async with beacon(database_url) as stack:
        assert await alert(stack) == "INC-1"
        await settled(stack)
        assert not roots_of(stack, 1)  # nowhere to post it yet
        assert any(s.startswith("failed to deliver INC-1 card") for s in await summaries(stack, 1))

        # Teams announces the install twice, sometimes at the same moment
        await stack.send(installation_update(service_url=stack.url, channel_id=CHANNEL_ID))
        await stack.send(conversation_update_bot_added(service_url=stack.url, channel_id=CHANNEL_ID))
        root = await incident_root(stack, 1)
        assert "Payments DB DTU above 90%" in card_text(root.cards[0])
        await settled(stack)
        assert len(roots_of(stack, 1)) == 1
        assert "Beacon was installed in a team: the card of INC-1 is posted now" in await summaries(stack, 1)


async def test_removed_from_the_team_beacon_forgets_it_the_doctor_says_so_and_a_reinstall_posts(
        database_url, tmp_path):
    async with beacon(database_url) as stack:
        await stack.send(conversation_update_bot_added(service_url=stack.url, channel_id=CHANNEL_ID))
        await alert(stack)
        await incident_root(stack, 1)
        assert await doctor_lines(database_url, tmp_path) == [
            "OK   Teams install: channels.incidents_channel is in team Operations, where Beacon is installed"]

        stack.teams.remove_bot(TEAM_ID, CHANNEL_ID)
        status, _ = await stack.send(installation_update("remove", service_url=stack.url, channel_id=CHANNEL_ID))
        assert status in (200, 201)
        assert await doctor_lines(database_url, tmp_path) == [
            f"FAIL Teams install: channels.incidents_channel ({CHANNEL_ID}) is in team Operations, where Beacon "
            "is not installed (it was removed, or the team was deleted): nothing can be posted there\n"
            "       fix: add Beacon to team Operations again, or change channels.incidents_channel"]
        # a new incident is not sent into the team Beacon left: it waits for an install
        requests = len(stack.teams.requests)
        portal = "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/portal-1"
        assert await alert(stack, alertRule="Portal 5xx rate", alertId=portal) == "INC-2"  # another service
        await settled(stack)
        assert not [r for r in stack.teams.requests[requests:] if r.operation == "create_conversation"]
        assert any("not installed in any team" in s for s in await summaries(stack, 2))

        stack.teams.add_bot(TEAM_ID)
        await stack.send(installation_update(service_url=stack.url, channel_id=CHANNEL_ID))
        await incident_root(stack, 2)
        await settled(stack)
        assert len(roots_of(stack, 2)) == 1 and len(roots_of(stack, 1)) == 1
        assert (await doctor_lines(database_url, tmp_path))[0].startswith("OK   Teams install")


async def test_a_deleted_team_is_forgotten_and_a_renamed_one_is_named_as_it_is_now(database_url, tmp_path):
    async with beacon(database_url) as stack:
        await stack.send(conversation_update_bot_added(service_url=stack.url, channel_id=CHANNEL_ID))
        await stack.send(team_event("teamRenamed", service_url=stack.url, team_name="Site Reliability"))
        assert await doctor_lines(database_url, tmp_path) == [
            "OK   Teams install: channels.incidents_channel is in team Site Reliability, where Beacon is installed"]
        await stack.send(team_event("teamDeleted", service_url=stack.url, team_name="Site Reliability"))
        assert await doctor_lines(database_url, tmp_path) == [
            f"FAIL Teams install: channels.incidents_channel ({CHANNEL_ID}) is in team Site Reliability, where "
            "Beacon is not installed (it was removed, or the team was deleted): nothing can be posted there\n"
            "       fix: add Beacon to team Site Reliability again, or change channels.incidents_channel"]
        await alert(stack)
        await settled(stack)
        assert not roots_of(stack, 1)


async def test_beacon_removed_from_the_members_of_a_team_forgets_it(database_url, tmp_path):
    async with beacon(database_url) as stack:
        await stack.send(installation_update(service_url=stack.url, channel_id=CHANNEL_ID))
        await stack.send(conversation_update_bot_removed(service_url=stack.url))
        lines = await doctor_lines(database_url, tmp_path)
        assert lines[0].startswith(f"FAIL Teams install: channels.incidents_channel ({CHANNEL_ID}) is in team "
                                   f"{TEAM_ID}, where Beacon is not installed"), lines


async def test_a_channel_beacon_has_not_seen_is_named_with_its_fix_until_teams_names_its_team(
        database_url, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="beacon.teams")
    async with beacon(database_url, channel=OTHER_CHANNEL) as stack:
        assert "Beacon is not installed in any team" in caplog.text  # said at start-up, with the fix
        assert "fix: add Beacon to the team that holds channels.incidents_channel" in caplog.text
        await stack.send(installation_update(service_url=stack.url))  # the General channel only
        lines = await doctor_lines(database_url, tmp_path, OTHER_CHANNEL)
        assert lines[0].startswith(f"WARN Teams install: channels.incidents_channel ({OTHER_CHANNEL}) is not a "
                                   "channel Beacon has seen in"), lines
        assert "fix: if it is in another team, add Beacon to that team" in lines[0]
        await stack.send(team_event("channelCreated", service_url=stack.url,
                                    channel={"id": OTHER_CHANNEL, "name": "incidents"}))
        assert (await doctor_lines(database_url, tmp_path, OTHER_CHANNEL))[0].startswith("OK   Teams install")
        await stack.send(team_event("channelDeleted", service_url=stack.url,
                                    channel={"id": OTHER_CHANNEL, "name": "incidents"}))
        assert (await doctor_lines(database_url, tmp_path, OTHER_CHANNEL))[0].startswith("WARN Teams install")


async def test_the_doctor_passes_with_no_channel_configured_once_installed(database_url, tmp_path):
    async with beacon(database_url, channel="") as stack:
        await stack.send(conversation_update_bot_added(service_url=stack.url))
        lines = await doctor_lines(database_url, tmp_path, "")
        assert lines == ["OK   Teams install: Beacon is installed in Operations; incidents go to the channel "
                         "chosen at install (channels.incidents_channel is not set)"]


async def test_a_hello_teams_fails_during_the_install_is_retried_and_said_once(database_url):
    async with beacon(database_url) as stack:
        stack.teams.fail_next(1, 503, operation="reply")  # the hello, answered in the install's own turn
        await stack.send(installation_update(service_url=stack.url, channel_id=CHANNEL_ID))
        await stack.send(conversation_update_bot_added(service_url=stack.url, channel_id=CHANNEL_ID))
        [hello] = await stack.teams.wait_for_posts(1, TEAM_ID)
        assert "Declare incident" in card_text(hello.cards[0])
        await settled(stack)
        assert len(stack.teams.posted(TEAM_ID)) == 1
