"""A dedicated channel for big incidents (`channels.dedicated_for`): made through Graph in the
incidents channel's team, the incident card posted there first with the commander and responders
@mentioned (a standard channel's members are the team's; a mention makes them follow it), a
pointer to it in the incident's main thread, and the channel archived when the incident closes.

Graph makes and archives the channel; the posts go through the bot, as every other post does.
"""

from __future__ import annotations

import logging
from datetime import datetime

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, ChannelAccount, Mention

from bot.poster import TeamsPoster
from bot.wiring import Wiring
from cards import bridge as bridge_cards
from cards.elements import label
from services.channels import usecases as channels
from services.channels.effects import ArchiveChannel, ChannelBridge, ChannelCard, ChannelPointer, MakeChannel
from services.channels.tables import IncidentChannelRow
from services.delivery import NotConfigured, NotYet, PermanentDeliveryError
from services.deps import Deps
from services.effects import ordering
from services.graph.channels import ChannelCreator, IncidentChannel, NameTaken, incident_channel_name
from services.incidents import Incident, Person, TimelineEvent
from services.outbox import Effect
from services.store.uow import UnitOfWork

log = logging.getLogger("beacon.channels")

SUFFIXES = ("", "-2", "-3", "-4", "-5")  # a name taken by someone else's channel (or a deleted one)
THREAD_WAIT = 30.0
PURPOSE = "channel"  # the incident's thread in its own channel (uow.threads)


def marker(incident: Incident) -> str:
    """What the channel's description carries so that Beacon recognises it as this incident's."""
    return f"[Beacon {incident.number} {incident.declared_at:%Y-%m-%dT%H:%M:%SZ}]"


def description(incident: Incident) -> str:
    """The marker first: Graph keeps 1,024 characters of a description, and a title can be long."""
    return (f"{marker(incident)} {incident.label} {incident.priority}: {incident.title}. Beacon made this channel "
            "for the incident and archives it when the incident closes.")


def mention_activity(activity: Activity, incident: Incident) -> Activity:
    """The card post with a line @mentioning the commander and the responders above it."""
    people: list[Person] = [p for p in (incident.commander, *incident.responders) if p is not None]
    people = list({(p.user_id or p.aad_object_id): p for p in people if p.user_id or p.aad_object_id}.values())
    if not people:
        activity.text = f"{incident.label} has its own channel."
        return activity
    tags = [f"<at>{label(p.name or 'responder')}</at>" for p in people]
    activity.text = f"{' '.join(tags)}: {incident.label} has its own channel. Follow it for the work on the incident."
    activity.entities = [Mention(mentioned=ChannelAccount(id=p.user_id or p.aad_object_id,
                                                          name=label(p.name or "responder")),
                                 text=tag, type="mention") for p, tag in zip(people, tags, strict=True)]
    return activity


async def _team_of(uow: UnitOfWork, incident_id: int, near: str) -> str:
    """The team of the channel the incident's card went to (the incidents channel)."""
    channel = near
    if not channel:
        thread = await uow.threads.get(incident_id)
        if thread is None:
            raise NotYet(f"INC-{incident_id} has no thread in Teams yet", retry_after=THREAD_WAIT)
        channel = thread.channel_id
    known = await uow.team_channels.of(channel) if channel else None
    if known is None:
        raise PermanentDeliveryError(f"INC-{incident_id} is not in a team channel Beacon knows, so it has no team to "
                                     "make its channel in: set channels.incidents_channel to a channel of a team "
                                     "where Beacon is installed")
    return known.team_id


async def _record(uow: UnitOfWork, incident_id: int, kind: str, summary: str, now: datetime,
                  after: dict[str, str]) -> None:
    """A timeline entry at the incident's current version: the channel changes no incident field,
    so it never makes someone's card stale."""
    incident = await uow.incidents.get(incident_id)
    await uow.timeline.record(incident_id, TimelineEvent(kind, now, None, summary, after=after),
                              incident.version if incident else 0)


class ChannelDelivery:
    def __init__(self, deps: Deps, graph: ChannelCreator | None, poster: TeamsPoster) -> None:
        self.deps = deps
        self.graph = graph
        self.poster = poster

    def _graph(self) -> ChannelCreator:
        if self.graph is None:
            raise NotConfigured("Microsoft Graph (dedicated channels)")
        return self.graph

    async def make(self, effect: Effect) -> None:
        incident_id = int(effect.payload["incident_id"])
        graph = self._graph()
        async with self.deps.uow() as uow:
            if await uow.channels.of(incident_id) is not None:
                return  # made by an earlier attempt, which queued its posts in the same transaction
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                raise PermanentDeliveryError(f"INC-{incident_id} does not exist")
            team_id = await _team_of(uow, incident_id, str(effect.payload.get("near") or ""))
            group = await uow.channels.group_of(team_id)
        if group is None:
            raise PermanentDeliveryError(f"Beacon does not know the Graph id of team {team_id}: Teams names it when "
                                         "Beacon is installed in the team; remove Beacon from the team and add it "
                                         "again")
        listed = await graph.channels(group.group_id)  # once: finds a channel made before, and counts
        channel = listed.find(marker(incident))
        in_use = listed.in_use
        if channel is None:
            channel = await self._create(graph, group.group_id, incident)
            in_use += 1
        now = self.deps.clock.now()
        async with self.deps.uow() as uow:
            await uow.channels.keep(IncidentChannelRow(
                incident_id=incident_id, team_id=team_id, group_id=group.group_id, channel_id=channel.id,
                name=channel.display_name, web_url=channel.web_url, created_at=now, archived_at=None))
            await uow.team_channels.note(channel.id, team_id, now, name=channel.display_name)
            await _record(uow, incident_id, "channel_created", f"channel {channel.display_name} made for the incident",
                          now, {"channel_id": channel.id, "name": channel.display_name, "web_url": channel.web_url})
            await uow.channels.counted(team_id, in_use, now)
            await uow.outbox.add_many([ChannelCard(incident_id, f"{incident.number} card in its channel"),
                                       ChannelPointer(incident_id, f"{incident.number} pointer to its channel")],
                                      now=now)
            bridge = await uow.bridges.get(incident_id)
            if bridge is not None and bridge.meeting is not None:  # held before the channel was made
                await channels.bridge_open(uow, incident_id, bridge.attempt, now)
            await uow.commit()

    async def _create(self, graph: ChannelCreator, group_id: str, incident: Incident) -> IncidentChannel:
        number = int(incident.number.removeprefix("INC-"))
        for suffix in SUFFIXES:
            name = incident_channel_name(number, incident.title, suffix)
            try:
                return await graph.create(group_id, name, description(incident))
            except NameTaken:
                log.info("%s: channel name %s is taken, trying another", incident.number, name)
        raise PermanentDeliveryError(f"{incident.number}: every channel name tried is taken in team {group_id}")

    async def archive(self, effect: Effect) -> None:
        incident_id = int(effect.payload["incident_id"])
        async with self.deps.uow() as uow:
            row = await uow.channels.of(incident_id)
            # The closing card first (in the thread and in the channel), then nobody posts there.
            posting = await uow.outbox.earlier_unfinished(ordering.incident_teams(incident_id), effect.id)
        if row is None or row.archived_at is not None:
            return  # never made (its making failed and was told), or archived already
        if posting:
            raise NotYet(f"INC-{incident_id}'s last posts go out before its channel is archived", retry_after=1.0)
        graph = self._graph()
        await graph.archive(row.group_id, row.channel_id)  # an archived channel still counts: no recount
        async with self.deps.uow() as uow:
            now = self.deps.clock.now()
            await uow.channels.archived(incident_id, now)
            await _record(uow, incident_id, "channel_archived", f"channel {row.name} archived", now,
                          {"channel_id": row.channel_id})
            await uow.commit()

    async def _target(self, incident_id: int) -> tuple[IncidentChannelRow, dict[str, str]]:
        async with self.deps.uow() as uow:
            row = await uow.channels.of(incident_id)
            if row is None:
                raise PermanentDeliveryError(f"INC-{incident_id} has no channel of its own")
            installs = await uow.installations.of_team(row.team_id)
        if not installs:
            raise PermanentDeliveryError(f"Beacon is no longer installed in the team of {row.name}")
        install = installs[0]
        return row, {"service_url": install.service_url, "tenant_id": install.tenant_id, "channel_id": row.channel_id}

    async def card(self, effect: Effect) -> None:
        incident_id = int(effect.payload["incident_id"])
        row, target = await self._target(incident_id)
        async with self.deps.uow() as uow:
            if row.archived_at is not None or await uow.threads.get(incident_id, PURPOSE) is not None:
                return  # posted by an earlier attempt, or closed before it could be
            incident = await uow.incidents.get(incident_id)
        assert incident is not None

        async def activity() -> Activity:  # drawn once the channel's turn has come
            return mention_activity(await self.poster.card_activity(incident_id), incident)

        conversation_id, root_id = await self.poster.new_channel_thread(target, activity)
        await self.poster.record_thread(incident_id, PURPOSE, conversation_id, root_id, target)

    async def redraw(self, incident_id: int, activity: Activity) -> None:
        """The card in the incident's channel follows the one in its main thread, until it is archived."""
        async with self.deps.uow() as uow:
            row = await uow.channels.of(incident_id)
            thread = await uow.threads.get(incident_id, PURPOSE) if row is not None else None
            incident = await uow.incidents.get(incident_id) if thread is not None else None
        if row is None or row.archived_at is not None or thread is None or incident is None:
            return
        copy = mention_activity(Activity(type="message", attachments=activity.attachments), incident)

        async def update(turn_context: TurnContext, root_id: str) -> None:
            copy.id = root_id
            await turn_context.update_activity(copy)

        try:
            await self.poster.in_thread(incident_id, update, PURPOSE)
        except PermanentDeliveryError as error:  # e.g. archived meanwhile: the main card went out
            log.warning("INC-%s: the card in its channel was not redrawn: %s", incident_id, error)

    async def bridge(self, effect: Effect) -> None:
        """The bridge's Join card, in the channel as in the incident's thread."""
        incident_id = int(effect.payload["incident_id"])
        async with self.deps.uow() as uow:
            row = await uow.channels.of(incident_id)
            incident = await uow.incidents.get(incident_id)
            found = await uow.bridges.get(incident_id)
        if row is None or row.archived_at is not None or incident is None or found is None or found.meeting is None:
            return  # no channel (any more), or the meeting is gone
        activity = MessageFactory.attachment(CardFactory.adaptive_card(bridge_cards.join_card(incident, found)))
        await self.poster.reply_in_thread(incident_id, activity, PURPOSE)

    async def pointer(self, effect: Effect) -> None:
        incident_id = int(effect.payload["incident_id"])
        async with self.deps.uow() as uow:
            row = await uow.channels.of(incident_id)
            incident = await uow.incidents.get(incident_id)
        if row is None or incident is None:
            raise PermanentDeliveryError(f"INC-{incident_id} has no channel of its own")
        name = row.name.replace("[", "(").replace("]", ")")
        link = f"[{name}]({row.web_url})" if row.web_url else name
        activity = MessageFactory.text(f"{incident.label} has its own channel: {link}")
        activity.text_format = "markdown"
        await self.poster.reply_in_thread(incident_id, activity)


def wire_channels(wiring: Wiring) -> None:
    """Dedicated channels: effects only, queued by services.channels.usecases."""
    graph = wiring.graph
    delivery = ChannelDelivery(wiring.deps, graph.channels if graph else None,
                               wiring.poster or TeamsPoster(wiring.adapter, wiring.deps))
    told = delivery.poster.telling_refusals  # Teams refusing a post for good reaches the admins
    wiring.handlers.update({MakeChannel: delivery.make, ArchiveChannel: delivery.archive,
                            ChannelCard: told(delivery.card), ChannelPointer: told(delivery.pointer),
                            ChannelBridge: told(delivery.bridge)})
    if wiring.deps.config.channels.dedicated_for:  # else no card redraw pays for a look-up
        delivery.poster.also_redraw.append(delivery.redraw)
    if wiring.deps.config.channels.dedicated_for and (graph is None or graph.channels is None):
        wiring.not_configured.append("Dedicated channels (channels.dedicated_for) need Microsoft Graph: set "
                                     "GRAPH_* settings, or no channel is made")
