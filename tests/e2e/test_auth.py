"""Inbound authentication with a real app id: Bot Framework tokens signed by a test key, checked
against a local OpenID metadata + JWKS server (TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import jwt
import pytest_asyncio
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.e2e.conftest import start_stack
from tests.teams_activities import TENANT_ID, card_action_invoke

APP_ID = "8e3b1f52-7c4d-4a9e-b6f0-2d1c3a5e7b90"
ISSUER = "https://api.botframework.com"


class OpenIdServer:
    """OpenID metadata and signing keys, as login.botframework.com serves them."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        self.endorsements = ["msteams"]
        self.delay = 0.0
        self.fetched = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> OpenIdServer:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/keys", self._keys)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.url}/v1/keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "endorsements": self.endorsements})
        self.fetched.set()
        return web.json_response({"keys": [jwk]})

    def token(self, service_url: str, *, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 10, "iat": now - 10,
                   "exp": now + 3600, **claims}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest_asyncio.fixture
async def secured(database_url):  # type: ignore[no-untyped-def]
    openid = await OpenIdServer().start()
    from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

    JwtTokenExtractor.metadataCache.clear()  # each test has its own keys
    stack = await start_stack(database_url, app_id=APP_ID, app_password="not-used-here", app_tenant_id=TENANT_ID,
                              openid_metadata_url=f"{openid.url}/v1/.well-known/openidconfiguration",
                              allowed_tenant_ids=f"{TENANT_ID}, other-tenant")
    yield stack, openid
    await stack.beacon.stop()
    await stack.teams.stop()
    await openid._runner.cleanup()  # type: ignore[union-attr]


def harmless_invoke(stack) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An invoke Beacon answers without calling Teams back (an unknown verb gets an error card)."""
    return card_action_invoke("nothing.here", {}, reply_to_id="1", service_url=stack.url)


async def test_a_valid_token_is_accepted(secured):
    stack, openid = secured
    status, body = await stack.beacon.post("/api/messages", harmless_invoke(stack),
                                           headers={"Authorization": f"Bearer {openid.token(stack.url)}"})
    assert status == 200 and body["type"] == "application/vnd.microsoft.error"  # Beacon answered: no such verb


async def test_bad_tokens_get_401_and_nothing_is_processed(secured):
    stack, openid = secured
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "no header": None,
        "wrong audience": openid.token(stack.url, aud=str(uuid.uuid4())),
        "wrong issuer": openid.token(stack.url, iss="https://evil.example"),
        "expired": openid.token(stack.url, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200),
        "bad signature": openid.token(stack.url, key=other_key),
        "serviceurl mismatch": openid.token("https://smba.example/elsewhere/"),
        "garbage": "not-a-jwt",
    }
    for name, token in cases.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, body = await stack.beacon.post("/api/messages", harmless_invoke(stack), headers=headers)
        assert status == 401, (name, status, body)
        assert body["error"].startswith("unauthorized"), name
    assert stack.teams.requests == []


async def test_a_key_without_the_msteams_endorsement_is_refused(secured):
    stack, openid = secured
    openid.endorsements = ["skype"]
    status, _ = await stack.beacon.post("/api/messages", harmless_invoke(stack),
                                        headers={"Authorization": f"Bearer {openid.token(stack.url)}"})
    assert status == 401


async def test_another_tenant_gets_403(secured):
    stack, openid = secured
    activity = card_action_invoke("nothing.here", {}, reply_to_id="1", service_url=stack.url,
                                  tenant_id="11111111-2222-3333-4444-555555555555")
    status, body = await stack.beacon.post("/api/messages", activity,
                                           headers={"Authorization": f"Bearer {openid.token(stack.url)}"})
    assert status == 403 and "tenant" in body["error"]


async def test_fetching_signing_keys_does_not_stall_other_requests(secured):
    """The SDK fetches keys with a blocking call; Beacon moves it off the event loop. The key
    server here runs on the same loop, so a blocking fetch would stall (deadlock) the whole app."""
    stack, openid = secured
    openid.delay = 1.0
    first = asyncio.create_task(stack.beacon.post(
        "/api/messages", harmless_invoke(stack), headers={"Authorization": f"Bearer {openid.token(stack.url)}"}))
    await asyncio.sleep(0.2)  # the key fetch is now under way
    assert await stack.beacon.get("/healthz") == (200, {"status": "ok"})
    assert not openid.fetched.is_set()  # health answered while the keys were still being fetched
    status, _ = await first
    assert status == 200
