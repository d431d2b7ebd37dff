"""Reads team rosters from the Bot Connector for services/roster.py, in the outbox worker (never
inside a click): the whole roster after an install (GET /v3/conversations/{team}/pagedmembers, page
by page with the continuation token, as Teams asks of bots), and one person who acted before the
roster named them (GET /v3/conversations/{conversation}/members/{user})."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from msrest.exceptions import HttpOperationError

from bot.poster import TeamsPoster, _reference
from services import roster
from services.effects.roster import LookUpMember, ReadRoster, Welcome
from services.outbox import Effect, EffectHandlers

log = logging.getLogger("beacon.teams")
PAGE_SIZE = 500  # Teams' largest page (it treats anything above as 500, below 50 as 50)


class TeamsRoster:
    def __init__(self, poster: TeamsPoster):
        self.poster = poster
        self.deps = poster.deps
        self.adapter = poster.adapter

    def handlers(self) -> EffectHandlers:
        return {ReadRoster: self.read_roster, LookUpMember: self.look_up_member, Welcome: self.welcome}

    async def read_roster(self, effect: Effect) -> None:
        payload = effect.payload
        team_id = str(payload["team_id"])
        reference = _reference(str(payload["service_url"]), team_id, str(payload.get("tenant_id") or ""),
                               self.adapter.app_id)
        started = self.deps.clock.now()

        async def read(turn_context: TurnContext) -> None:
            turn_context.activity.channel_data = {}  # TeamsInfo reads it; a continuation has none
            token: str | None = None
            while True:
                page: Any = await TeamsInfo.get_paged_team_members(turn_context, team_id, token, PAGE_SIZE)
                await roster.members_seen(self.deps, team_id, [roster.member_of(m) for m in page.members or []])
                token = page.continuation_token or None
                if not token:
                    return

        await self.poster._proactive(reference, read)
        await roster.roster_read(self.deps, team_id, started)

    async def look_up_member(self, effect: Effect) -> None:
        payload = effect.payload
        reference = _reference(str(payload["service_url"]), str(payload["conversation_id"]),
                               str(payload.get("tenant_id") or ""), self.adapter.app_id)
        found: list[Any] = []

        async def look_up(turn_context: TurnContext) -> None:
            turn_context.activity.channel_data = {}
            try:
                found.append(await TeamsInfo.get_member(turn_context, str(payload["user_id"])))
            except HttpOperationError as error:
                if getattr(error.response, "status_code", 0) != 404:
                    raise

        await self.poster._proactive(reference, look_up)
        if not found:  # not a member where they acted: they stay unknown (read-only by default)
            log.warning("%s is not a member of %s: they stay unknown to Beacon", payload["user_id"],
                        payload["conversation_id"])
            return
        await roster.members_seen(self.deps, str(payload["team_id"]), [roster.member_of(found[0])])

    async def welcome(self, effect: Effect) -> None:
        """The hello Teams failed during the install's turn."""
        from bot.installs import welcome_activity

        payload = effect.payload
        reference = _reference(str(payload["service_url"]), str(payload["conversation_id"]),
                               str(payload.get("tenant_id") or ""), self.adapter.app_id)

        async def send(turn_context: TurnContext) -> None:
            await turn_context.send_activity(welcome_activity())

        await self.poster._proactive(reference, send)
