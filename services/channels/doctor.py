"""The doctor's lines for dedicated channels: is Graph set up to make them, which team they go to,
and how many channels that team has in use. Teams allows 1,000 channels per team and counts the
ones deleted in the last 30 days too, which Graph does not list: the doctor warns early."""

from __future__ import annotations

import asyncio

from services.config import BeaconConfig
from services.delivery import DeliveryError
from services.graph.settings import GraphSettings
from services.installs import ChannelCheck
from services.store.uow import UnitOfWork

TEAM_LIMIT = 1000
WARN_AT = 900
TIMEOUT_SECONDS = 15
DOC = "infra/graph-permissions.md"


async def _teams(uow: UnitOfWork, config: BeaconConfig) -> list[tuple[str, str, str]]:
    """(team id, Graph id, team name) of the team(s) channels are made in."""
    wanted = ""
    if config.channels.incidents_channel:
        known = await uow.team_channels.of(config.channels.incidents_channel)
        wanted = known.team_id if known is not None else ""
    names = {row.team_id: row.team_name for row in await uow.installations.teams()}
    return [(row.team_id, row.group_id, names.get(row.team_id, "") or row.team_id)
            for row in await uow.channels.teams() if row.team_id in names and (not wanted or row.team_id == wanted)]


async def check_dedicated_channels(uow: UnitOfWork, config: BeaconConfig, graph: GraphSettings) -> list[ChannelCheck]:
    if not config.channels.dedicated_for:
        return []
    if not graph.configured:
        return [ChannelCheck("fail", "channels.dedicated_for is set but Microsoft Graph is not configured, so no "
                             "channel can be made", f"set the GRAPH_* settings and follow {DOC}")]
    teams = await _teams(uow, config)
    if not teams:
        return [ChannelCheck("fail", "Beacon does not know the Graph id of the incidents team (Teams names it when "
                             "Beacon is installed there)", "add Beacon to the team that holds the incidents channel, "
                             "or remove it from that team and add it again")]
    made = {team: (total, archived) for team, total, archived in await uow.channels.made()}
    from services.graph.adapters import build_graph_adapters

    adapters = build_graph_adapters(graph)
    checks = []
    try:
        for team_id, group_id, name in teams:
            total, archived = made.get(team_id, (0, 0))
            mine = f"Beacon made {total} ({archived} archived)"
            assert adapters.channels is not None
            try:
                in_use = await asyncio.wait_for(adapters.channels.count(group_id), TIMEOUT_SECONDS)
            except (DeliveryError, TimeoutError) as error:
                checks.append(ChannelCheck("fail", f"team {name}: cannot list its channels: {error}",
                                           f"grant ChannelSettings.ReadWrite.All ({DOC})"))
                continue
            outcome = "warn" if in_use >= WARN_AT else "ok"
            checks.append(ChannelCheck(outcome, f"team {name}: {in_use} channels in use of {TEAM_LIMIT} (channels "
                                       f"deleted in the last 30 days count too); {mine}",
                                       "delete channels nobody needs, or point channels.incidents_channel at "
                                       "another team" if outcome == "warn" else ""))
    finally:
        await adapters.aclose()
    return checks
