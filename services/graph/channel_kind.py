"""Which kind a channel is: standard, private or shared, as Graph tells it.

Beacon's Teams app declares no `supportsChannelFeatures`, so Teams lets it into standard channels
only: in a private or shared channel it is not in the roster and every post is refused. Graph's
GET /teams/{group id}/channels/{channel id} (application permission Channel.ReadBasic.All) names
the channel's membershipType, so the doctor and the start-up log can say so before a post fails.
"""

from __future__ import annotations

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.teams.item.channels.item.channel_item_request_builder import ChannelItemRequestBuilder

from services.graph.errors import graph_errors

ChannelQuery = ChannelItemRequestBuilder.ChannelItemRequestBuilderGetQueryParameters
PERMISSION = "Channel.ReadBasic.All"


async def channel_kind(client: GraphServiceClient, group_id: str, channel_id: str) -> str:
    """The channel's membershipType ("standard", "private" or "shared"); Graph's default is standard."""
    config = RequestConfiguration(query_parameters=ChannelQuery(select=["id", "membershipType"]))
    with graph_errors(f"read channel {channel_id} (needs {PERMISSION})",
                      access_denied_fix=f"fix: grant the {PERMISSION} application permission with admin consent"):
        channel = await client.teams.by_team_id(group_id).channels.by_channel_id(channel_id).get(config)
    kind = channel.membership_type if channel is not None else None
    return str(kind.value) if kind is not None else "standard"
