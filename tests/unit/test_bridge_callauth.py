"""Only Graph, for this bot, may post call notifications (tokens signed with a local test key)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import jwt
import pytest
from botframework.connector.auth import JwtTokenExtractor
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.bridge.callauth import CallNotificationAuth

APP_ID = "dd3885da-f9ab-486b-bfae-85de3d445555"
METADATA = "https://calls.test.invalid/.well-known/OpenIdConfiguration"  # never fetched: cached below
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(autouse=True)
def published_key() -> Any:
    jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    metadata = JwtTokenExtractor.get_open_id_metadata(METADATA)
    metadata.keys, metadata.last_updated = [{**jwk, "kid": "k1"}], datetime.now()
    yield
    JwtTokenExtractor.metadataCache.pop(METADATA, None)


def token(**claims: Any) -> str:
    now = int(time.time())
    body = {"iss": "https://api.botframework.com", "aud": APP_ID, "iat": now, "nbf": now, "exp": now + 600,
            "tid": "tenant", **claims}
    return "Bearer " + jwt.encode(body, KEY, algorithm="RS256", headers={"kid": "k1"})


async def test_a_token_from_graph_for_this_bot_is_accepted():
    assert await CallNotificationAuth(APP_ID, METADATA).problem(token()) is None


@pytest.mark.parametrize("header, words", [
    ("", "need the bearer token"),
    ("Basic abc", "need the bearer token"),
    ("Bearer not-a-jwt", "could not be verified"),
])
async def test_requests_without_a_valid_token_are_refused(header: str, words: str):
    assert words in (await CallNotificationAuth(APP_ID, METADATA).problem(header) or "")


async def test_tokens_for_another_app_from_another_issuer_or_expired_are_refused():
    auth = CallNotificationAuth(APP_ID, METADATA)
    assert "another app" in (await auth.problem(token(aud="someone-else")) or "")
    assert "not issued by" in (await auth.problem(token(iss="https://evil.example")) or "")
    expired = int(time.time()) - 3600
    assert "could not be verified" in (await auth.problem(token(exp=expired, iat=expired - 60, nbf=expired - 60))
                                       or "")


async def test_local_mode_accepts_only_requests_without_a_token():
    local = CallNotificationAuth("", METADATA)
    assert await local.problem("") is None
    assert "local mode" in (await local.problem(token()) or "")
