"""GRAPH_ORGANIZER_USER_ID as onlineMeetings needs it: the organiser's Entra object id.

With application permissions, /users/{id}/onlineMeetings accepts only the object id (a GUID), not
a user principal name (facts §12.7), while the README invites a mailbox address. The address is
resolved once with GET /users/{upn}?$select=id, at start-up and by the doctor, and kept; a failed
start-up look-up is tried again on the first meeting.
"""

from __future__ import annotations

import asyncio
import uuid

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from services.delivery import PermanentDeliveryError
from services.graph.errors import graph_errors

UserQuery = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters


def is_object_id(value: str) -> bool:
    try:
        uuid.UUID(value.strip())
    except ValueError:
        return False
    return True


class OrganizerId:
    """The organiser's object id, looked up at most once per process (concurrent callers share it)."""

    def __init__(self, client: GraphServiceClient, configured: str) -> None:
        self.configured = configured.strip()
        self._client = client
        self._id = self.configured if is_object_id(self.configured) else ""
        self._lock = asyncio.Lock()

    @property
    def known(self) -> str:
        """The object id if already resolved, else empty."""
        return self._id

    async def resolve(self) -> str:
        if self._id:
            return self._id
        async with self._lock:
            if not self._id:
                self._id = await self._look_up()
        return self._id

    async def _look_up(self) -> str:
        config = RequestConfiguration(query_parameters=UserQuery(select=["id"]))
        with graph_errors(f"look up GRAPH_ORGANIZER_USER_ID {self.configured} (needs User.Read.All)"):
            user = await self._client.users.by_user_id(self.configured).get(config)
        if user is None or not user.id:
            raise PermanentDeliveryError(f"Graph has no object id for GRAPH_ORGANIZER_USER_ID {self.configured}")
        return user.id
