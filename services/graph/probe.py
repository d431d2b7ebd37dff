"""Start-up checks: can Beacon get a token, and do the organizer and sender mailboxes exist?

Problems are reported once at start-up (CONTRACT.md); nothing here blocks the start.
"""

from __future__ import annotations

from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from services.graph.errors import from_exception
from services.graph.settings import GraphSettings


async def check_token(client: GraphServiceClient) -> str | None:
    """GET /organization: a 2xx or 403 proves the token works (403 only lacks Organization.Read.All)."""
    try:
        await client.organization.get()
    except APIError as error:
        if error.response_status_code == 403:
            return None
        return f"Graph rejected Beacon's credentials: {from_exception('token check', error)}"
    except Exception as error:
        mapped = from_exception("token check", error)
        if mapped is None:
            raise
        return str(mapped)
    return None


async def check_mailbox(client: GraphServiceClient, user: str, role: str) -> str | None:
    """GET /users/{id}: the user exists and has a mail address (needs User.Read.All)."""
    query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id", "mail"])
    try:
        found = await client.users.by_user_id(user).get(RequestConfiguration(query_parameters=query))
    except Exception as error:
        mapped = from_exception(f"look up {role} {user}", error)
        if mapped is None:
            raise
        return str(mapped)
    if found is None or not found.mail:
        return f"{role} {user} has no mailbox (no mail address in Entra ID)"
    return None


async def startup_problems(client: GraphServiceClient, settings: GraphSettings) -> list[str]:
    problems = [await check_token(client)]
    if settings.organizer_user_id:
        problems.append(await check_mailbox(client, settings.organizer_user_id, "GRAPH_ORGANIZER_USER_ID"))
    if settings.mail_sender:
        problems.append(await check_mailbox(client, settings.mail_sender, "MAIL_SENDER"))
    return [problem for problem in problems if problem]
