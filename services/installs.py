"""Where Beacon is installed in Teams, as Teams tells it: installs, removals, deleted and renamed
teams, and channels created or deleted in them.

An install is where incidents nobody could post yet go: an alert that arrived before Beacon was in
any team, or a card Teams refused because Beacon had been removed. Their root cards are queued
again, oldest first, in their old place in each incident's Teams order, so the posts waiting behind
them follow in order. A removal or a deleted team is forgotten at once, so nothing more is sent
there; the channels Beacon knew in that team are kept, so the doctor can name the team a configured
channel belongs to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.config import BeaconConfig
from services.deps import Deps, ThreadTarget
from services.effects.roster import CheckChannelKinds, Welcome
from services.effects.teams import PostCard
from services.incidents import TimelineEvent
from services.roster import read_after_install
from services.store.tables import InstallationRow
from services.store.uow import UnitOfWork

log = logging.getLogger("beacon.teams")


@dataclass(frozen=True)
class Install:
    """An install as an installationUpdate or conversationUpdate announces it."""

    conversation_id: str
    kind: str  # "team", "personal" or "groupChat"
    service_url: str
    tenant_id: str = ""
    team_id: str = ""
    channel_id: str = ""  # the channel picked at install (the General channel's id is the team's)
    team_name: str = ""
    aad_group_id: str = ""  # the team's Microsoft 365 group id (Graph's /teams/{id})
    reference: dict[str, Any] = field(default_factory=dict)


async def installed(deps: Deps, install: Install) -> bool:
    """Remember the install and post what was waiting for it. True for the one announcement of an
    install that should say hello (Teams sends two, sometimes at the same moment)."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        row = await uow.installations.save(
            conversation_id=install.conversation_id, kind=install.kind, team_id=install.team_id,
            channel_id=install.channel_id, tenant_id=install.tenant_id, service_url=install.service_url,
            reference=install.reference, installed_at=now, team_name=install.team_name)
        if install.team_id:
            await uow.channels.note_group(install.team_id, install.aad_group_id)  # Graph's name for the team
            for channel in {install.team_id, install.channel_id} - {""}:
                await uow.team_channels.note(channel, install.team_id, now, team_name=row.team_name)
            await uow.teams_problems.clear(await uow.team_channels.of_team(install.team_id))
            await read_after_install(uow, team_id=install.team_id, service_url=install.service_url,
                                     tenant_id=install.tenant_id, installed_at=row.installed_at, now=now)
            await post_waiting(uow, row, deps.config, now)
            if install.aad_group_id and any(getattr(deps.config.channels, name) for name in CHANNEL_SETTINGS):
                await uow.outbox.add(CheckChannelKinds(
                    install.team_id, f"check the configured channels' kinds in {row.team_name or install.team_id}",
                    row.installed_at.strftime("%Y%m%dT%H%M%S.%f")), now=now)
        first = await uow.installations.greet_once(install.conversation_id)
        await uow.commit()
    return first


async def welcome_later(deps: Deps, install: Install) -> None:
    """Teams failed the hello during the install's turn: send it from the outbox, retried as posts are."""
    async with deps.uow() as uow:
        row = await uow.installations.get(install.conversation_id)
        since = (row.installed_at if row is not None else deps.clock.now()).strftime("%Y%m%dT%H%M%S.%f")
        await uow.outbox.add(Welcome(install.conversation_id, install.service_url, install.tenant_id,
                                     f"hello in {install.team_name or install.conversation_id}", since),
                             now=deps.clock.now())
        await uow.commit()


async def removed(deps: Deps, *, team_id: str, conversation_id: str, why: str) -> None:
    """Beacon was removed from a team (or chat), or the team was deleted: forget it."""
    async with deps.uow() as uow:
        if team_id:
            gone = await uow.installations.forget_team(team_id)
            await uow.roster.forget_team(team_id)
            names = {row.team_name for row in gone if row.team_name}
            log.warning("%s: Beacon forgets team %s%s", why, ", ".join(names) or team_id,
                        "" if gone else " (it did not know it)")
        else:
            await uow.installations.forget(conversation_id)
            await uow.roster.forget_team(conversation_id)
            log.info("%s: Beacon forgets the chat %s", why, conversation_id)
        await uow.commit()


async def team_renamed(deps: Deps, team_id: str, name: str) -> None:
    async with deps.uow() as uow:
        await uow.installations.rename_team(team_id, name)
        await uow.team_channels.rename_team(team_id, name)
        await uow.commit()


async def channel_seen(deps: Deps, *, team_id: str, channel_id: str, name: str = "", team_name: str = "",
                       deleted: bool = False, group_id: str = "") -> None:
    """A channel was created, renamed, restored or deleted in a team Beacon is in."""
    async with deps.uow() as uow:
        await uow.channels.note_group(team_id, group_id)
        if deleted:
            await uow.team_channels.drop(channel_id)
        else:
            await uow.team_channels.note(channel_id, team_id, deps.clock.now(), name=name, team_name=team_name)
        await uow.commit()


async def incidents_target(uow: UnitOfWork, install: InstallationRow, config: BeaconConfig) -> ThreadTarget | None:
    """Where incidents go through this install: the configured incidents channel when it may be in
    this team (Beacon does not know it in another one), else the install's own channel."""
    channel = config.channels.incidents_channel
    if channel:
        known = await uow.team_channels.of(channel)
        if known is not None and known.team_id != install.team_id:
            return None  # the configured channel is in another team: this install cannot reach it
    return ThreadTarget(install.service_url, install.tenant_id, channel_id=channel or install.channel_id)


async def post_waiting(uow: UnitOfWork, install: InstallationRow, config: BeaconConfig, now: datetime) -> int:
    """Queue again the root card of every open incident that has no thread in Teams yet (oldest
    first); the posts queued behind each root follow it. Returns how many were queued."""
    target = await incidents_target(uow, install, config)
    if target is None:
        return 0
    queued = 0
    where = f"team {install.team_name}" if install.team_name else "a team"
    for incident in await uow.incidents.open_without_thread():
        assert incident.id is not None
        if not await uow.outbox.queue_again(PostCard(incident.id, target.to_dict(), f"{incident.number} card"),
                                            now=now):
            continue  # its card is on its way already
        queued += 1
        await uow.timeline.record(incident.id, TimelineEvent(
            "posting", now, None, f"Beacon was installed in {where}: the card of {incident.label} is posted now",
            after={"channel": target.channel_id}), incident.version)
    if queued:
        log.info("installed in %s: posting %d incident(s) that were waiting for Teams", where, queued)
    return queued


CHANNEL_SETTINGS = ("incidents_channel", "stakeholder_channel", "triage_channel")


@dataclass(frozen=True)
class ChannelCheck:
    """Whether a configured channel is in a team where Beacon is installed; `outcome` is "ok",
    "fail" (Beacon cannot post there) or "warn" (Beacon cannot tell yet)."""

    outcome: str
    detail: str
    fix: str = ""


async def check_channels(uow: UnitOfWork, config: BeaconConfig) -> list[ChannelCheck]:
    """Each configured channel against the teams Beacon is installed in, read from the database."""
    teams = {row.team_id: row for row in await uow.installations.teams()}
    names = ", ".join(row.team_name or row.team_id for row in teams.values())
    configured = [(f"channels.{name}", getattr(config.channels, name)) for name in CHANNEL_SETTINGS
                  if getattr(config.channels, name)]
    checks: list[ChannelCheck] = []
    unknown: list[tuple[str, str]] = []
    for setting, channel in configured:
        known = await uow.team_channels.of(channel)
        if known is None:
            unknown.append((setting, channel))
        elif known.team_id in teams:
            team = teams[known.team_id].team_name or known.team_name or known.team_id
            checks.append(ChannelCheck("ok", f"{setting} is in team {team}, where Beacon is installed"))
        else:
            team = known.team_name or known.team_id
            elsewhere = f" to a channel of {names}" if names else ""
            checks.append(ChannelCheck(
                "fail", f"{setting} ({channel}) is in team {team}, where Beacon is not installed (it was removed, "
                f"or the team was deleted): nothing can be posted there",
                f"add Beacon to team {team} again, or change {setting}{elsewhere}"))
    if not teams:
        if not checks:
            where = unknown[0][0] if unknown else "the incidents channel"
            # Never installed: expected before the first install. Installed once: Beacon was removed.
            outcome = "fail" if await uow.team_channels.any() else "warn"
            checks.append(ChannelCheck(outcome, "Beacon is not installed in any team: incident cards wait until "
                                       "it is (alerts and reports are kept and posted after the install)",
                                       f"add Beacon to the team that holds {where} (Teams: Apps, Beacon, Add to "
                                       f"a team)"))
        return checks
    for setting, channel in unknown:
        checks.append(ChannelCheck(
            "warn", f"{setting} ({channel}) is not a channel Beacon has seen in {names}",
            f"if it is in another team, add Beacon to that team (choosing that channel when Teams asks where "
            f"to set it up); else check {setting} (a channel id looks like 19:…@thread.tacv2)"))
    if not configured:
        checks.append(ChannelCheck("ok", f"Beacon is installed in {names}; incidents go to the channel chosen "
                                         "at install (channels.incidents_channel is not set)"))
    return checks


async def report_channels(deps: Deps) -> None:
    """At start-up: each configured channel that is not in a team where Beacon is installed, with the fix."""
    async with deps.uow() as uow:
        checks = await check_channels(uow, deps.config)
    for check in checks:
        if check.outcome != "ok":
            log.warning("%s; fix: %s", check.detail, check.fix)
