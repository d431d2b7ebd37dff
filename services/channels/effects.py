"""The dedicated channel's effects: made and archived through Graph (one after the other, on the
incident's channel ordering key), the incident card posted there and the pointer to it in the
incident's main thread (Teams). Keys `incident:<id>:channel:<step>`: each happens once."""

from __future__ import annotations

from dataclasses import dataclass

from services.effects import ordering
from services.effects.base import Channel, OutboxEffect


@dataclass(frozen=True)
class MakeChannel(OutboxEffect):
    """Make the incident's channel in the incidents team (or find the one a crashed attempt made),
    note it, and queue the posts there."""

    kind = "graph.make_channel"
    channel = Channel.GRAPH
    incident_id: int
    description: str
    near: str = ""  # a channel of the team to make it in (the incidents channel); "": where its thread is

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:channel:make"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_channel(self.incident_id)


@dataclass(frozen=True)
class ArchiveChannel(OutboxEffect):
    """Archive the incident's channel when it closes, after its making (same ordering key). Its
    handler also waits for the incident's Teams posts queued before it, so the card in the channel
    shows the incident closed before nobody can post there."""

    kind = "graph.archive_channel"
    channel = Channel.GRAPH
    incident_id: int
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:channel:archive"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_channel(self.incident_id)


@dataclass(frozen=True)
class ChannelCard(OutboxEffect):
    """The incident card as the first post of the channel, @mentioning the commander and responders."""

    kind = "teams.channel_card"
    channel = Channel.TEAMS
    incident_id: int
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:channel:card"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_channel_posts(self.incident_id)


@dataclass(frozen=True)
class ChannelPointer(OutboxEffect):
    """One line in the incident's main thread: where its channel is, with the link (after its root card)."""

    kind = "teams.channel_pointer"
    channel = Channel.TEAMS
    incident_id: int
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:channel:pointer"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_teams(self.incident_id)


@dataclass(frozen=True)
class ChannelBridge(OutboxEffect):
    """The bridge's Join card in the incident's channel (after its first post, same ordering key);
    `attempt` names the meeting, so each meeting is posted there once."""

    kind = "teams.channel_bridge"
    channel = Channel.TEAMS
    incident_id: int
    attempt: int
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:channel:bridge:{self.attempt}"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_channel_posts(self.incident_id)
