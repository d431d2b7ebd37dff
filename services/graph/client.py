"""Builds the msgraph-sdk GraphServiceClient from GraphSettings: credential, base URL, middleware.

One client (one httpx connection pool, one credential) is shared by every Graph adapter; close it
with `GraphConnection.aclose()` on shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    AuthenticationProvider,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware import RetryHandler
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.graph_request_adapter import options as graph_default_options
from msgraph_core import GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler
from msgraph_core.middleware.options import GraphTelemetryHandlerOption

from services.graph.retry import BoundedRetryHandler, RetryPolicy
from services.graph.settings import GraphSettings


class StaticTokenProvider(AccessTokenProvider):
    """GRAPH_ACCESS_TOKEN, sent only to the GRAPH_BASE_URL host (never to a link to elsewhere).

    Unlike azure-identity's provider it allows plain http, so a fake Graph can run on any host
    (e.g. a docker service name); the token is a development token by definition.
    """

    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._hosts = AllowedHostsValidator([host])

    async def get_authorization_token(self, uri: str,
                                      additional_authentication_context: dict[str, Any] | None = None) -> str:
        return self._token if self._hosts.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


@dataclass
class GraphConnection:
    client: GraphServiceClient
    http: httpx.AsyncClient
    credential: AsyncTokenCredential | None

    async def aclose(self) -> None:
        await self.http.aclose()
        if self.credential is not None:
            await self.credential.close()


def create_credential(settings: GraphSettings) -> AsyncTokenCredential | None:
    """The azure-identity credential for the settings; None for a static token."""
    kind = settings.credential_kind
    if kind == "client-secret":
        from azure.identity.aio import ClientSecretCredential

        return ClientSecretCredential(settings.tenant_id, settings.client_id,
                                      settings.client_secret.get_secret_value())
    if kind == "managed-identity":
        from azure.identity.aio import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=settings.client_id or None)
    return None


def create_http_client(settings: GraphSettings) -> httpx.AsyncClient:
    """httpx with the SDK's default middleware, its RetryHandler swapped for the bounded one."""
    policy = RetryPolicy(max_retries=settings.max_retries, max_total_wait=settings.retry_max_wait_seconds,
                         backoff=settings.retry_backoff_seconds)
    middleware = KiotaClientFactory.get_default_middleware(graph_default_options)
    middleware = [BoundedRetryHandler(policy) if isinstance(m, RetryHandler) else m for m in middleware]
    telemetry = graph_default_options[GraphTelemetryHandlerOption.get_key()]
    middleware.append(GraphTelemetryHandler(options=telemetry))  # type: ignore[arg-type]
    timeout = httpx.Timeout(settings.timeout_seconds, connect=min(10.0, settings.timeout_seconds))
    http = httpx.AsyncClient(timeout=timeout, base_url=settings.base_url)
    return GraphClientFactory.create_with_custom_middleware(middleware, client=http)


def create_auth_provider(settings: GraphSettings,
                         credential: AsyncTokenCredential | None) -> AuthenticationProvider:
    if credential is None:
        token = StaticTokenProvider(settings.access_token.get_secret_value(), settings.host)
        return BaseBearerTokenAuthenticationProvider(token)
    return AzureIdentityAuthenticationProvider(credential, scopes=[settings.scope],
                                               allowed_hosts=[settings.host])


def connect(settings: GraphSettings) -> GraphConnection:
    """A GraphServiceClient for configured settings (check `settings.missing()` first)."""
    credential = create_credential(settings)
    http = create_http_client(settings)
    adapter = GraphRequestAdapter(create_auth_provider(settings, credential), client=http)
    adapter.base_url = settings.base_url  # the adapter stamps it on every request (sovereign clouds, fakes)
    return GraphConnection(GraphServiceClient(request_adapter=adapter), http, credential)
