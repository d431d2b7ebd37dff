"""A standard Teams channel per incident: POST /teams/{teamId}/channels (facts §2).

Messages still go through the bot (Bot Framework), which posts wherever it is installed; Graph
only creates the channel. A standard channel's members are the team's members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.channel import Channel
from msgraph.generated.models.channel_membership_type import ChannelMembershipType
from msgraph.generated.teams.item.channels.channels_request_builder import ChannelsRequestBuilder

from services.delivery import DeliveryError, TransientDeliveryError
from services.graph.errors import graph_errors

MAX_NAME = 50  # Teams limits (limits-specifications-teams#channel-names)
_FORBIDDEN = re.compile(r"[~#%&*{}+/\\:<>?|'\",\x00-\x1f\x80-\x9f]")


@dataclass(frozen=True)
class IncidentChannel:
    id: str  # 19:…@thread.tacv2, the same id Bot Framework uses for the channel conversation
    web_url: str
    display_name: str


class ChannelCreator(Protocol):
    async def create_channel(self, team_id: str, display_name: str,
                             description: str = "") -> IncidentChannel: ...


def channel_name(name: str) -> str:
    """A name Teams accepts: no reserved characters or '..', no leading _ or ., no trailing ., ≤ 50."""
    cleaned = re.sub(r"\.{2,}", ".", _FORBIDDEN.sub(" ", name))
    cleaned = re.sub(r"\s+", " ", cleaned).strip().lstrip("_.")
    return cleaned[:MAX_NAME].rstrip(" .") or "incident"


def _is_duplicate_name(error: DeliveryError) -> bool:
    text = str(error).lower()
    return error.status in (400, 409) and ("namealreadyexists" in text or "already exist" in text)


class GraphChannels:
    def __init__(self, client: GraphServiceClient) -> None:
        self._client = client

    async def create_channel(self, team_id: str, display_name: str, description: str = "") -> IncidentChannel:
        """Creates the channel; if a retry finds it already made (same name), returns that one."""
        name = channel_name(display_name)
        channels = self._client.teams.by_team_id(team_id).channels
        body = Channel(display_name=name, description=description or None,
                       membership_type=ChannelMembershipType.Standard)
        try:
            with graph_errors(f"create channel in team {team_id}"):
                created = await channels.post(body)
        except DeliveryError as error:
            if not _is_duplicate_name(error):
                raise
            created = await self._find(channels, name)
        if created is None or not created.id:
            raise TransientDeliveryError(f"Graph returned no channel for {name!r} in team {team_id}")
        return IncidentChannel(id=created.id, web_url=created.web_url or "",
                               display_name=created.display_name or name)

    async def _find(self, channels: ChannelsRequestBuilder, name: str) -> Channel | None:
        quoted = name.replace("'", "''")
        query = ChannelsRequestBuilder.ChannelsRequestBuilderGetQueryParameters(
            filter=f"displayName eq '{quoted}'", select=["id", "displayName", "webUrl"])
        with graph_errors("find existing channel"):
            found = await channels.get(RequestConfiguration(query_parameters=query))
        return next(iter(found.value or []), None) if found else None
