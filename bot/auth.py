"""Inbound authentication details the Bot Framework SDK leaves to us.

- A signing-key refresh that does not block the event loop: botframework-connector 4.17 fetches
  the OpenID metadata and keys with a synchronous `requests.get` inside a coroutine, which stalls
  every other request (and deadlocks against a metadata server on the same loop). We run that
  fetch in a worker thread, one at a time.
- The tenant allow-list (ALLOWED_TENANT_IDS).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticateRequestResult, AuthenticationConstants, ClaimsIdentity
from botframework.connector.auth.connector_factory import ConnectorFactory
from botframework.connector.auth.jwt_token_extractor import _OpenIdMetadata

_KEY_FETCH_TIMEOUT = 10


def _fetch_keys(url: str) -> list[dict[str, Any]]:
    response = requests.get(url, timeout=_KEY_FETCH_TIMEOUT)
    response.raise_for_status()
    keys = requests.get(response.json()["jwks_uri"], timeout=_KEY_FETCH_TIMEOUT)
    keys.raise_for_status()
    return list(keys.json()["keys"])


_refresh_lock: asyncio.Lock | None = None


async def _refresh_off_loop(self: _OpenIdMetadata) -> None:
    global _refresh_lock
    if _refresh_lock is None:
        _refresh_lock = asyncio.Lock()
    async with _refresh_lock:
        self.keys = await asyncio.to_thread(_fetch_keys, self.url)
        self.last_updated = datetime.now()


def _find_or_none(self: _OpenIdMetadata, key_id: str) -> Any:
    """The SDK raises IndexError for an unknown key id; an unknown key is simply not valid."""
    if not any(key.get("kid") == key_id for key in self.keys or []):
        return None
    return _original_find(self, key_id)


_original_find = _OpenIdMetadata._find


def install_sdk_fixes() -> None:
    _OpenIdMetadata._refresh = _refresh_off_loop  # type: ignore[method-assign]
    _OpenIdMetadata._find = _find_or_none  # type: ignore[method-assign]


def parameterized_settings(metadata_url: str) -> dict[str, str]:
    """With a custom channel OpenID metadata URL the SDK wants every endpoint spelled out; the
    others keep the public-cloud values."""
    return {
        "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": metadata_url,
        "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
        "TO_CHANNEL_FROM_BOT_LOGIN_URL": AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL,
        "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL":
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        "OAUTH_URL": AuthenticationConstants.OAUTH_URL,
    }


def activity_tenant(activity: Activity) -> str:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = (data.get("tenant") or {}).get("id") if isinstance(data.get("tenant"), dict) else None
    conversation = activity.conversation
    return str(tenant or getattr(conversation, "tenant_id", "") or "")


CONNECTOR_TIMEOUT_SECONDS = 30


def bounded(client: Any) -> Any:
    """One retry layer, and a bounded attempt. msrest retries an error status up to three times
    inside a call and sleeps whatever Retry-After Teams sends, uncapped, with a 100 s timeout: an
    outbox batch could hang for many minutes. Error statuses go back to the outbox instead, which
    retries with backoff, honours Retry-After and gives up after TEAMS_RETRY_HORIZON; msrest
    keeps retrying dropped connections (quick, bounded)."""
    config = getattr(client, "config", None)
    if config is None:
        return client
    config.connection.timeout = CONNECTOR_TIMEOUT_SECONDS
    policy = config.retry_policy.policy
    policy.status_forcelist = set()
    policy.respect_retry_after_header = False
    return client


class _CachingConnectorFactory(ConnectorFactory):
    """Reuses one ConnectorClient per (service URL, audience): the SDK builds a new msrest client
    for every turn, which was most of a card action's CPU time. The SDK never closes them."""

    def __init__(self, inner: ConnectorFactory, cache: dict[tuple[str, ...], Any], app_id: str):
        self._inner, self._cache, self._app_id = inner, cache, app_id

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (self._app_id, service_url, audience or "")
        client = self._cache.get(key)
        if client is None:
            client = bounded(await self._inner.create(service_url, audience))
            if len(self._cache) > 256:  # a handful of Teams regions in practice; stay bounded
                self._cache.clear()
            self._cache[key] = client
        return client


class CachingBotFrameworkAuthentication(ConfigurationBotFrameworkAuthentication):
    def __init__(self, configuration: Any):
        super().__init__(configuration)
        self._connectors: dict[tuple[str, ...], Any] = {}
        self._token_clients: dict[str, Any] = {}

    @staticmethod
    def _app_id(claims_identity: ClaimsIdentity | None) -> str:
        claims = claims_identity.claims if claims_identity and claims_identity.claims else {}
        return str(claims.get("appid") or claims.get("azp") or claims.get("aud") or "")

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = _CachingConnectorFactory(
                result.connector_factory, self._connectors, self._app_id(result.claims_identity))
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _CachingConnectorFactory(super().create_connector_factory(claims_identity), self._connectors,
                                        self._app_id(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        key = self._app_id(claims_identity)
        if key not in self._token_clients:
            self._token_clients[key] = await super().create_user_token_client(claims_identity)
        return self._token_clients[key]
