"""Standard Teams channels for big incidents through Graph (facts §2): made with
POST /teams/{team-id}/channels, listed with GET /teams/{team-id}/channels (once per making: the
listing both finds a channel made before and counts the team's), archived with
POST /teams/{team-id}/channels/{channel-id}/archive. `team-id` is the team's Graph (group) id.

Messages still go through the bot (Bot Framework), which posts wherever it is installed; Graph
only makes and archives the channel. A standard channel's members are the team's members.

A channel Beacon made says so in its description (`marker`), so a retry after a crash finds the
channel it made instead of making a second one, also when its name needed a suffix.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

from services.delivery import DeliveryError, PermanentDeliveryError

if TYPE_CHECKING:
    from msgraph import GraphServiceClient
    from msgraph.generated.models.channel import Channel
    from msgraph.generated.teams.item.channels.channels_request_builder import ChannelsRequestBuilder

# msgraph-sdk is imported by GraphChannels, which exists only when Graph is configured: the names above
# (what bot/channels.py uses without Graph) do not load it.

MAX_NAME = 50  # Graph: "the maximum length of the channel's displayName is 50 characters"
MAX_DESCRIPTION = 1024
# Teams refuses these in a channel name: ~ # % & * { } + / \ : < > ? | ' " , and control characters.
_FORBIDDEN = re.compile(r"[~#%&*{}+/\\:<>?|'\",\x00-\x1f\x7f-\x9f]")
PERMISSION_FIX = ("fix: consent to Channel.Create.Group when installing the Teams app (or grant Channel.Create), "
                  "and grant ChannelSettings.ReadWrite.All to list and archive channels (infra/graph-permissions.md)")


@dataclass(frozen=True)
class IncidentChannel:
    id: str  # 19:…@thread.tacv2, the same id Bot Framework uses for the channel conversation
    web_url: str
    display_name: str


class NameTaken(PermanentDeliveryError):
    """Another channel of the team has this name (or had it: deleted names stay taken a while)."""


@dataclass(frozen=True)
class TeamChannels:
    """A team's channels as one GET /teams/{team-id}/channels listed them: enough both to find the
    channel Beacon made for an incident and to count the team's channels against Teams' 1,000."""

    listed: tuple[dict[str, Any], ...]

    def find(self, marker: str) -> IncidentChannel | None:
        """The channel whose description carries `marker`: one Beacon made for this incident."""
        for channel in self.listed:
            if marker in str(channel.get("description") or "") and channel.get("id"):
                return IncidentChannel(id=str(channel["id"]), web_url=str(channel.get("webUrl") or ""),
                                       display_name=str(channel.get("displayName") or ""))
        return None

    @property
    def in_use(self) -> int:
        """Channels the team has (Graph does not list deleted ones, which Teams still counts for 30 days)."""
        return len(self.listed)


class ChannelCreator(Protocol):
    async def channels(self, group_id: str) -> TeamChannels: ...

    async def create(self, group_id: str, name: str, description: str) -> IncidentChannel: ...

    async def archive(self, group_id: str, channel_id: str) -> None: ...


def channel_name(name: str, suffix: str = "") -> str:
    """A name Teams accepts: no reserved characters or '..', no leading _ or ., no trailing ., ≤ 50
    with the suffix (e.g. "-2" when the name is taken)."""
    cleaned = re.sub(r"\.{2,}", ".", _FORBIDDEN.sub(" ", name))
    cleaned = re.sub(r"\s+", " ", cleaned).strip().lstrip("_.")
    return (cleaned[:MAX_NAME - len(suffix)].rstrip(" .-") or "incident") + suffix


def incident_channel_name(number: int, title: str, suffix: str = "") -> str:
    """inc-<n>-<title in lower-case words joined by hyphens>, e.g. inc-12-payments-api-down."""
    slug = "-".join(re.findall(r"[^\W_]+", title.lower()))
    return channel_name(f"inc-{number}-{slug}" if slug else f"inc-{number}", suffix)


def _is_duplicate_name(error: DeliveryError) -> bool:
    text = str(error).lower()
    return error.status in (400, 409) and ("namealreadyexists" in text or "already exist" in text)


@contextmanager
def _channel_errors(operation: str) -> Iterator[None]:
    """graph_errors, with the fix appended to a refusal for want of a permission (Teams' Graph APIs
    answer 403 "Forbidden: Missing role permissions…", not ErrorAccessDenied)."""
    from services.graph.errors import graph_errors

    try:
        with graph_errors(operation, access_denied_fix=PERMISSION_FIX):
            yield
    except DeliveryError as error:
        if error.status == 403 and PERMISSION_FIX not in str(error):
            raise PermanentDeliveryError(f"{error} — {PERMISSION_FIX}", status=403) from error
        raise


def _channel(found: Channel, name: str) -> IncidentChannel:
    if not found.id:
        raise PermanentDeliveryError(f"Graph returned no id for channel {name!r}")
    return IncidentChannel(id=found.id, web_url=found.web_url or "", display_name=found.display_name or name)


@functools.cache
def _models() -> SimpleNamespace:
    """The SDK types GraphChannels uses, imported once."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.channel import Channel
    from msgraph.generated.models.channel_membership_type import ChannelMembershipType
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.teams.item.channels.channels_request_builder import ChannelsRequestBuilder
    from msgraph.generated.teams.item.channels.item.archive.archive_post_request_body import ArchivePostRequestBody
    from msgraph.generated.teams.item.channels.item.channel_item_request_builder import ChannelItemRequestBuilder

    return SimpleNamespace(RequestConfiguration=RequestConfiguration, ODataError=ODataError,
                           ChannelsRequestBuilder=ChannelsRequestBuilder, Channel=Channel,
                           ChannelMembershipType=ChannelMembershipType, ArchivePostRequestBody=ArchivePostRequestBody,
                           ChannelItemRequestBuilder=ChannelItemRequestBuilder)


class GraphChannels:
    def __init__(self, client: GraphServiceClient) -> None:
        self._client = client
        _models()  # loaded here, at wiring, not on the event loop in the middle of the first call

    def _channels(self, group_id: str) -> ChannelsRequestBuilder:
        return self._client.teams.by_team_id(group_id).channels

    async def _list(self, group_id: str) -> list[dict[str, Any]]:
        """The team's channels as Graph's JSON. A team has up to 1,000, and building the SDK's models
        for each took seconds of the event loop's CPU; only the few fields read are asked for."""
        sdk = _models()
        query = sdk.ChannelsRequestBuilder.ChannelsRequestBuilderGetQueryParameters(
            select=["id", "displayName", "description", "webUrl", "isArchived"])
        request = self._channels(group_id).to_get_request_information(sdk.RequestConfiguration(query_parameters=query))
        with _channel_errors(f"list channels of team {group_id}"):
            body = await self._client.request_adapter.send_primitive_async(request, "bytes", {"XXX": sdk.ODataError})
        return list(json.loads(body or b"{}").get("value") or [])

    async def channels(self, group_id: str) -> TeamChannels:
        return TeamChannels(tuple(await self._list(group_id)))

    async def create(self, group_id: str, name: str, description: str) -> IncidentChannel:
        sdk = _models()
        body = sdk.Channel(display_name=name, description=description[:MAX_DESCRIPTION],
                           membership_type=sdk.ChannelMembershipType.Standard)
        try:
            with _channel_errors(f"create channel {name!r} in team {group_id}"):
                created = await self._channels(group_id).post(body)
        except DeliveryError as error:
            if _is_duplicate_name(error):
                raise NameTaken(str(error), status=error.status) from None
            raise
        if created is None:
            raise PermanentDeliveryError(f"Graph returned no channel for {name!r} in team {group_id}")
        return _channel(created, name)

    async def archive(self, group_id: str, channel_id: str) -> None:
        """One POST …/archive. Graph documents no answer for a channel that is archived already (a retry
        after an archive whose answer was lost): a 400 is taken as done only when the channel reads as
        archived, since a 400 also means "Team has to be active" (its team is archived), which is not."""
        item = self._channels(group_id).by_channel_id(channel_id)
        try:
            with _channel_errors(f"archive channel {channel_id}"):
                await item.archive.post(_models().ArchivePostRequestBody())
        except DeliveryError as error:
            if error.status != 400 or not await self._archived(group_id, channel_id):
                raise

    async def _archived(self, group_id: str, channel_id: str) -> bool:
        sdk = _models()
        query = sdk.ChannelItemRequestBuilder.ChannelItemRequestBuilderGetQueryParameters(select=["id", "isArchived"])
        with _channel_errors(f"read channel {channel_id}"):
            current = await self._channels(group_id).by_channel_id(channel_id).get(
                sdk.RequestConfiguration(query_parameters=query))
        return bool(current is not None and current.is_archived)

    async def count(self, group_id: str) -> int:
        """Channels the team has now, for the doctor."""
        return (await self.channels(group_id)).in_use
