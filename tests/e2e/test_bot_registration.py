"""New bot registrations are SingleTenant or UserAssignedMSI (Azure no longer creates multi-tenant
bots): SingleTenant is the default and needs its tenant; a user-assigned managed identity signs
Beacon's replies with no password. Inbound tokens come from the local OpenID/JWKS server, outbound
ones from a fake managed-identity endpoint, and the replies reach the fake connector."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.doctor import check_bot_credentials
from services.settings import Settings, SettingsError
from tests.e2e.conftest import start_stack
from tests.e2e.test_auth import OpenIdServer, harmless_invoke
from tests.fakes.managed_identity import FakeManagedIdentity
from tests.teams_activities import TENANT_ID, channel_message

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "8e3b1f52-7c4d-4a9e-b6f0-2d1c3a5e7b90"


@pytest_asyncio.fixture
async def openid() -> AsyncIterator[OpenIdServer]:
    from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

    JwtTokenExtractor.metadataCache.clear()  # each test has its own keys
    server = await OpenIdServer().start()
    yield server
    await server._runner.cleanup()  # type: ignore[union-attr]


def metadata(openid: OpenIdServer) -> str:
    return f"{openid.url}/v1/.well-known/openidconfiguration"


def test_single_tenant_is_the_default() -> None:
    assert Settings(_env_file=None).app_type == "SingleTenant"  # type: ignore[call-arg]


async def test_single_tenant_without_its_tenant_does_not_start_and_says_why(database_url, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MicrosoftAppType is SingleTenant .the default., which needs "
                                            "MicrosoftAppTenantId: set it to the Directory .tenant. id"):
        await start_stack(database_url, app_id=APP_ID, app_password="secret")
    with pytest.raises(SettingsError, match="MicrosoftAppType is 'MultiTenantt'"):
        await start_stack(database_url, app_id=APP_ID, app_password="secret", app_type="MultiTenantt")
    env = {**{k: v for k, v in os.environ.items() if not k.lower().startswith("microsoftapp")},
           "MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "secret",
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", "PORT": "0"}
    process = await asyncio.create_subprocess_exec(sys.executable, "app.py", cwd=ROOT, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, (out, err)
    assert "Beacon cannot start: MicrosoftAppType is SingleTenant (the default), which needs " \
           "MicrosoftAppTenantId" in err.decode()
    assert "Traceback" not in err.decode()


async def test_single_tenant_accepts_the_channel_s_tokens(database_url, openid: OpenIdServer) -> None:
    stack = await start_stack(database_url, app_id=APP_ID, app_password="secret", app_tenant_id=TENANT_ID,
                              openid_metadata_url=metadata(openid))
    try:
        status, body = await stack.beacon.post("/api/messages", harmless_invoke(stack),
                                               headers={"Authorization": f"Bearer {openid.token(stack.url)}"})
        assert status == 200 and body["type"] == "application/vnd.microsoft.error"  # Beacon answered: no such verb
        status, _ = await stack.beacon.post("/api/messages", harmless_invoke(stack),
                                            headers={"Authorization": f"Bearer {openid.token(stack.url, aud='x')}"})
        assert status == 401  # a token for another bot
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def test_a_user_assigned_managed_identity_signs_replies_without_a_password(
        database_url, openid: OpenIdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client_id = str(uuid.uuid4())  # the user-assigned identity's; MSAL caches tokens per process and identity
    identity = FakeManagedIdentity(client_id).start()
    for name, value in identity.env().items():
        monkeypatch.setenv(name, value)
    stack = await start_stack(database_url, app_id=client_id, app_password="", app_type="UserAssignedMSI",
                              app_tenant_id=TENANT_ID, openid_metadata_url=metadata(openid))
    try:
        token = openid.token(stack.url, aud=client_id)
        status, _ = await stack.beacon.post("/api/messages", channel_message("help", service_url=stack.url),
                                            headers={"Authorization": f"Bearer {token}"})
        assert status in (200, 201)
        [reply] = await stack.teams.wait_for_posts(1)
        [request] = [r for r in stack.teams.requests if r.operation != "unknown"][:1]
        assert request.headers["Authorization"] == f"Bearer {identity.issued[0]}"
        asked = identity.requests[0]["query"]
        assert asked["client_id"] == client_id and asked["resource"] == "https://api.botframework.com"
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
        identity.stop()


async def test_doctor_checks_the_managed_identity_and_asks_for_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    client_id = str(uuid.uuid4())
    identity = FakeManagedIdentity(client_id).start()
    for name, value in identity.env().items():
        monkeypatch.setenv(name, value)
    try:
        msi = Settings(_env_file=None, app_id=client_id, app_type="UserAssignedMSI",  # type: ignore[call-arg]
                       app_tenant_id=TENANT_ID)
        check = await check_bot_credentials(msi)
        assert check.outcome == "ok", check.line()
        assert "(UserAssignedMSI) gets a Bot Framework token from its managed identity" in check.line()
        other = Settings(_env_file=None, app_id="7d3a8e2c-5b4f-4a0d-9c8e-3f4a5b6c7d8e",  # type: ignore[call-arg]
                         app_type="UserAssignedMSI", app_tenant_id=TENANT_ID)
        refused = await check_bot_credentials(other)  # not assigned to this app
        assert refused.outcome == "fail" and "container app → Identity" in refused.fix
        assert "MicrosoftAppPassword" not in refused.line()
        missing = await check_bot_credentials(Settings(_env_file=None, app_id=client_id,  # type: ignore[call-arg]
                                                       app_type="UserAssignedMSI"))
        assert missing.outcome == "fail" and "needs MicrosoftAppTenantId" in missing.detail
        default = await check_bot_credentials(Settings(_env_file=None, app_id=client_id,  # type: ignore[call-arg]
                                                       app_password="s"))
        assert default.outcome == "fail" and "SingleTenant (the default)" in default.detail
        assert "Directory (tenant) id" in default.fix
    finally:
        identity.stop()

