"""Where Beacon is installed, as Teams announces it: installs (saying hello there once), removals,
deleted and renamed teams, channel events. The use cases are in services/installs.py."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity

from bot import context as ctx
from cards.messages import welcome_card
from services import installs, roster
from services.deps import Deps

if TYPE_CHECKING:
    from bot.wiring import Wiring

log = logging.getLogger("beacon.teams")


def wire_installs(wiring: Wiring) -> None:
    """The core's Teams roster: its reads and look-ups are outbox effects (bot/roster.py)."""
    from bot.roster import TeamsRoster

    wiring.handlers.update(TeamsRoster(wiring.poster).handlers())


async def record_install(turn_context: TurnContext, deps: Deps) -> None:
    activity = turn_context.activity
    team = ctx.team_id(activity)
    kind = "team" if team else (activity.conversation.conversation_type or "personal")
    install = installs.Install(
        conversation_id=activity.conversation.id, kind=kind, service_url=activity.service_url,
        tenant_id=ctx.tenant_id(activity), team_id=team,
        channel_id=ctx.selected_channel_id(activity) or (activity.conversation.id if team else ""),
        team_name=ctx.team_name(activity), aad_group_id=ctx.team_group_id(activity),
        reference=TurnContext.get_conversation_reference(activity).serialize())
    if await installs.installed(deps, install):
        try:
            await turn_context.send_activity(welcome_activity())
        except Exception as error:  # Teams failed it: the outbox retries it, as any other post
            log.warning("the hello after an install failed, it is retried: %s", error)
            await installs.welcome_later(deps, install)


def welcome_activity() -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(welcome_card()))


async def record_removal(turn_context: TurnContext, deps: Deps, why: str) -> None:
    """installationUpdate remove, the bot in membersRemoved, or the team deleted."""
    activity = turn_context.activity
    await installs.removed(deps, team_id=ctx.team_id(activity), conversation_id=activity.conversation.id, why=why)


def is_beacon(turn_context: TurnContext, members: list[object]) -> bool:
    bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
    return bool(bot_id) and any(getattr(m, "id", None) == bot_id for m in members)


async def team_renamed(turn_context: TurnContext, deps: Deps) -> None:
    activity = turn_context.activity
    await installs.team_renamed(deps, ctx.team_id(activity), ctx.team_name(activity))


async def channel_event(turn_context: TurnContext, deps: Deps, *, deleted: bool = False) -> None:
    """channelCreated, channelRenamed, channelRestored or channelDeleted in a team Beacon is in."""
    activity = turn_context.activity
    channel = ctx.channel_data(activity).get("channel") or {}
    if not channel.get("id") or not ctx.team_id(activity):
        return
    await installs.channel_seen(deps, team_id=ctx.team_id(activity), channel_id=str(channel["id"]),
                                name=str(channel.get("name") or ""), team_name=ctx.team_name(activity),
                                deleted=deleted, group_id=ctx.team_group_id(activity))


def _roster_key(turn_context: TurnContext) -> str:
    activity = turn_context.activity
    return ctx.team_id(activity) or activity.conversation.id.partition(";messageid=")[0]


async def members_added(turn_context: TurnContext, deps: Deps, members: list[object]) -> None:
    """People added to the team (Teams gives each as a TeamsChannelAccount): into the roster."""
    bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
    people = [roster.member_of(m) for m in members if getattr(m, "id", None) != bot_id]
    await roster.members_seen(deps, _roster_key(turn_context), people)


async def members_removed(turn_context: TurnContext, deps: Deps, members: list[object]) -> None:
    await roster.members_left(deps, _roster_key(turn_context),
                              [i for m in members for i in (roster.member_of(m)["aad_object_id"],
                                                             roster.member_of(m)["user_id"])])
