"""Configured channels Beacon's Teams app cannot post in: private and shared channels.

Teams admits an app to a private or shared channel only when its manifest declares
`supportsChannelFeatures`, the app is added to that channel, and the app reads people from the
channel's own roster rather than the team's. Beacon's app does none of that: its cards, mentions and
roster are a team's, so it declares no such support and Teams refuses every card it posts in such a
channel. The doctor and the start-up log refuse a configured private or shared channel with the fix,
before the first incident's card is refused. Graph names a channel's kind (membershipType) for the
teams whose group id Teams gave at install.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.config import BeaconConfig
from services.delivery import DeliveryError
from services.deps import Deps
from services.graph.channel_kind import PERMISSION
from services.installs import CHANNEL_SETTINGS, ChannelCheck
from services.store.uow import UnitOfWork

log = logging.getLogger("beacon.teams")
KindOf = Callable[[str, str], Awaitable[str]]  # (team's group id, channel id) → membershipType
REFUSED_KINDS = ("private", "shared")


@dataclass(frozen=True)
class ChannelToCheck:
    setting: str
    channel: str
    teams: tuple[tuple[str, str], ...]  # (group id, team name) of each team it may be in


async def channels_to_check(uow: UnitOfWork, config: BeaconConfig, team_id: str = "") -> list[ChannelToCheck]:
    """Each configured channel with the installed teams it may belong to (the one Beacon saw it in,
    or every team when Teams never showed it: a private channel's events do not reach the app).
    `team_id`: only that team (the one Beacon was just installed in); "": every installed team."""
    groups = {row.team_id: row.group_id for row in await uow.channels.teams()}  # Graph's id of each team
    installed = [row for row in await uow.installations.teams()
                 if groups.get(row.team_id) and (not team_id or row.team_id == team_id)]
    found: list[ChannelToCheck] = []
    for name in CHANNEL_SETTINGS:
        channel = getattr(config.channels, name)
        if not channel:
            continue
        known = await uow.team_channels.of(channel)
        teams = tuple((groups[row.team_id], row.team_name or row.team_id) for row in installed
                      if known is None or row.team_id == known.team_id)
        if teams:
            found.append(ChannelToCheck(f"channels.{name}", channel, teams))
    return found


async def classify(targets: list[ChannelToCheck], kind_of: KindOf) -> list[ChannelCheck]:
    checks: list[ChannelCheck] = []
    for target in targets:
        checks += await _classify_one(target, kind_of)
    return checks


async def _classify_one(target: ChannelToCheck, kind_of: KindOf) -> list[ChannelCheck]:
    for group_id, team in target.teams:
        try:
            kind = await kind_of(group_id, target.channel)
        except (DeliveryError, TimeoutError) as error:
            if getattr(error, "status", None) == 404:
                continue  # not a channel of this team
            said = str(error) or "Graph did not answer in time"
            return [ChannelCheck("warn", f"cannot tell whether {target.setting} is a standard channel: {said}",
                                 f"grant the {PERMISSION} application permission with admin consent "
                                 f"(infra/graph-permissions.md), so Beacon can tell private and shared channels, "
                                 f"where Teams refuses its posts")]
        if kind in REFUSED_KINDS:
            return [ChannelCheck(
                "fail", f"{target.setting} ({target.channel}) is a {kind} channel of team {team}: Beacon works in "
                f"standard channels only (its Teams app does not declare supportsChannelFeatures), so Teams "
                f"refuses every card Beacon posts there",
                f"set {target.setting} to a standard channel of {team} (one every member of the team sees, "
                f"such as General)")]
        return [ChannelCheck("ok", f"{target.setting} is a {kind} channel of team {team}")]
    return []  # in none of the teams: check_channels already says Beacon has not seen it


async def check_channel_kinds(uow_factory: Callable[[], UnitOfWork], config: BeaconConfig,
                              kind_of: KindOf, team_id: str = "") -> list[ChannelCheck]:
    """Every installed team (the doctor, start-up), or only `team_id` (after an install there)."""
    async with uow_factory() as uow:
        targets = await channels_to_check(uow, config, team_id)
    return await classify(targets, kind_of)  # outside the unit of work: Graph may be slow


async def report_channel_kinds(deps: Deps, kind_of: KindOf, team_id: str = "") -> None:
    """At start-up (every team) and after an install (that team only): a configured private or
    shared channel is an error in the log, with the fix."""
    for check in await check_channel_kinds(deps.uow, deps.config, kind_of, team_id):
        if check.outcome == "fail":
            log.error("%s; fix: %s", check.detail, check.fix)
        elif check.outcome == "warn":
            log.warning("%s; fix: %s", check.detail, check.fix)
