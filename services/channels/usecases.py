"""When an incident gets a dedicated channel, and when the channel is archived: decided in the
transaction that declares or changes the incident, as outbox effects (services/pipeline.py)."""

from __future__ import annotations

from datetime import datetime

from services.channels.effects import ArchiveChannel, ChannelBridge, MakeChannel
from services.config import BeaconConfig
from services.incidents import Incident, Status
from services.store.uow import UnitOfWork


def wants_channel(incident: Incident, config: BeaconConfig) -> bool:
    """A listed priority, open, and not a drill (a drill stays in its thread)."""
    return incident.priority in config.channels.dedicated_for and incident.is_open and not incident.drill


async def follow(uow: UnitOfWork, incident: Incident, config: BeaconConfig, now: datetime, *, near: str = "") -> None:
    """Queue the channel's making when the incident is (or becomes) of a listed priority, and its
    archive when the incident closes. Both keys are once per incident: asking again queues nothing.
    `near`: the channel its card goes to, when the incident is being declared."""
    assert incident.id is not None
    if wants_channel(incident, config):
        if not near:
            thread = await uow.threads.get(incident.id)
            near = thread.channel_id if thread is not None else ""
        near = config.channels.incidents_channel or near
        await uow.outbox.add(MakeChannel(incident.id, f"{incident.number} channel", near), now=now)
    elif incident.status is Status.CLOSED and await uow.outbox.of_incident(incident.id, MakeChannel):
        await uow.outbox.add(ArchiveChannel(incident.id, f"{incident.number} channel archived"), now=now)


async def bridge_open(uow: UnitOfWork, incident_id: int, attempt: int, now: datetime) -> None:
    """A bridge meeting exists: its Join card goes to the incident's channel too, when it has one
    (a channel made later gets it when it is made)."""
    channel = await uow.channels.of(incident_id)
    if channel is not None and channel.archived_at is None:
        await uow.outbox.add(ChannelBridge(incident_id, attempt, f"INC-{incident_id} bridge card in its channel"),
                             now=now)
