"""Personal (one-to-one) messages from Beacon: a page, or the note that someone was made commander.

Teams lets a bot start a one-to-one chat only with someone in a tenant where it is installed (as a
personal app, or in a team they belong to), by their Teams user id (29:…), with the tenant named.
The user id comes from the people Beacon has seen, or the team rosters Beacon keeps (services/
roster.py); otherwise it is looked up once in the roster of the team Beacon is installed in, and
remembered. Runs in the outbox worker, never in a click.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters
from msrest.exceptions import HttpOperationError
from sqlalchemy.exc import IntegrityError

from bot.poster import TeamsPoster, _connector_call, _raise, _reference
from services.delivery import PermanentDeliveryError, TransientDeliveryError
from services.incidents import Person

log = logging.getLogger("beacon.paging")


@dataclass(frozen=True)
class Endpoint:
    """Where Beacon reaches a tenant's Teams: its service URL, the tenant, and a conversation
    whose roster holds the people Beacon may talk to (the incident's channel, or a team's)."""

    service_url: str
    tenant_id: str
    roster: str


class PersonalMessages:
    def __init__(self, poster: TeamsPoster):
        self.poster = poster
        self.deps = poster.deps
        self.adapter = poster.adapter

    async def endpoint(self, incident_id: int | None) -> Endpoint:
        async with self.deps.uow() as uow:
            thread = await uow.threads.get(incident_id) if incident_id else None
            install = None if thread else await uow.installations.any_team()
        if thread is not None:
            return Endpoint(thread.service_url, thread.tenant_id, thread.channel_id or thread.conversation_id)
        if install is not None:
            return Endpoint(install.service_url, install.tenant_id, install.conversation_id)
        raise PermanentDeliveryError("Beacon is not installed in any team yet, so it cannot message anyone in Teams")

    async def is_member(self, endpoint: Endpoint, conversation: str, aad_object_id: str) -> bool:
        return await self.member(endpoint, conversation, aad_object_id) is not None

    async def member(self, endpoint: Endpoint, conversation: str, aad_object_id: str) -> ChannelAccount | None:
        reference = _reference(endpoint.service_url, conversation, endpoint.tenant_id, self.adapter.app_id)
        found: list[ChannelAccount] = []

        async def look_up(turn_context: TurnContext) -> None:
            turn_context.activity.channel_data = {}  # TeamsInfo reads it; a continuation has none
            try:
                found.append(await TeamsInfo.get_member(turn_context, aad_object_id))
            except HttpOperationError as error:
                if getattr(error.response, "status_code", 0) != 404:
                    raise

        await self.poster._proactive(reference, look_up)
        return found[0] if found else None

    async def find(self, endpoint: Endpoint, aad_object_id: str) -> ChannelAccount | None:
        """Someone in the incident's channel, else in the team Beacon is installed in."""
        member = await self.member(endpoint, endpoint.roster, aad_object_id)
        if member is None:
            async with self.deps.uow() as uow:
                team = await uow.installations.any_team(endpoint.tenant_id)
            if team is not None and team.conversation_id != endpoint.roster:
                member = await self.member(endpoint, team.conversation_id, aad_object_id)
        return member

    async def user_id(self, endpoint: Endpoint, aad_object_id: str, name: str) -> str:
        """The person's Teams user id (29:…), from the people Beacon knows, else the team's roster."""
        async with self.deps.uow() as uow:
            known = (await uow.people.named([aad_object_id])).get(aad_object_id)
            rostered = "" if known is not None and known.user_id else await uow.roster.user_id_of(aad_object_id)
        if known is not None and known.user_id:
            return known.user_id
        if rostered:
            return rostered
        member = await self.find(endpoint, aad_object_id)
        if member is None or not member.id:
            raise PermanentDeliveryError(f"{name or aad_object_id} is not in the roster of a team where Beacon is "
                                         f"installed, so Teams will not let Beacon message them")
        await self._remember(Person(aad_object_id, member.name or name, member.id))
        return str(member.id)

    async def _remember(self, person: Person) -> None:
        """Keep the user id for next time; only a cache, so a concurrent writer of the same person
        (the roster, another delivery) winning the insert is fine."""
        try:
            async with self.deps.uow() as uow:
                await uow.people.remember([person], self.deps.clock.now())
                await uow.commit()
        except IntegrityError:
            log.debug("%s was remembered concurrently", person.aad_object_id)

    async def send(self, incident_id: int | None, aad_object_id: str, name: str, activity: Activity) -> None:
        """Start (or reuse: Teams answers the same chat) the one-to-one chat, and post in it."""
        endpoint = await self.endpoint(incident_id)
        if not endpoint.tenant_id:
            raise TransientDeliveryError("the tenant of Beacon's Teams installation is not known yet")
        user = await self.user_id(endpoint, aad_object_id, name)
        bot_id = f"28:{self.adapter.app_id}" if self.adapter.app_id else "beacon"
        params = ConversationParameters(is_group=False, bot=ChannelAccount(id=bot_id, name="Beacon"),
                                        members=[ChannelAccount(id=user)], tenant_id=endpoint.tenant_id,
                                        channel_data={"tenant": {"id": endpoint.tenant_id}})
        failures: list[BaseException] = []

        async def post(turn_context: TurnContext) -> None:
            try:
                await turn_context.send_activity(activity)
            except Exception as error:  # reach the outbox, not the SDK's on_turn_error
                failures.append(error)

        await _connector_call(self.adapter.create_conversation(self.adapter.app_id, post, params, "msteams",
                                                               endpoint.service_url, None))
        if failures:
            await _connector_call(_raise(failures[0]))
