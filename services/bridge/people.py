"""Email addresses of responders known only by their Entra id (picked in Teams' people picker).

A calendar invitation needs an address; GET /users/{id}?$select=mail answers it (User.Read.All,
listed in infra/graph-permissions.md as "people look-ups in the directory").
"""

from __future__ import annotations

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from services.delivery import PermanentDeliveryError
from services.graph.errors import graph_errors


class GraphPeople:
    """services.bridge.delivery.PeopleDirectory through Graph (imported only when Graph is configured:
    msgraph-sdk is large)."""

    def __init__(self, client: GraphServiceClient) -> None:
        self._users = client.users

    async def email_of(self, aad_object_id: str) -> str | None:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id", "mail"])
        try:
            with graph_errors(f"look up user {aad_object_id}"):
                user = await self._users.by_user_id(aad_object_id).get(
                    RequestConfiguration(query_parameters=query))
        except PermanentDeliveryError:  # unknown user, no User.Read.All: invite the others, say who was left out
            return None
        return (user.mail or None) if user else None
