"""A Beacon server on loopback with a fake Bot Framework connector, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from app import Overrides
from bot.wiring import OutsideSettings
from services.config import BeaconConfig, parse_config
from services.freshdesk.settings import FreshdeskSettings
from services.graph import GraphSettings
from services.notify.sms.settings import SmsSettings
from services.notify.voice.settings import VoiceSettings
from services.roster import member_of
from services.settings import Settings
from services.warm import warm_report, warm_up
from tests.cardschema import assert_valid_card
from tests.fakes.connector import FakeConnector
from tests.harness import BeaconServer
from tests.stall import stall_probe
from tests.teams_activities import Users

E2E_CONFIG: dict[str, Any] = {
    "services": [{"name": "payments-api", "team": "payments", "criticality": "high"},
                 {"name": "web-portal", "team": "web", "criticality": "medium"}],
    "directory": {
        "teams": [{"name": "payments", "members": [
            {"name": Users.BOB.name, "aad_object_id": Users.BOB.aad_object_id}]}, {"name": "web"}],
        "clients": [{"name": "Contoso", "account_owner": {"name": "Avery", "email": "avery@example.com"}}],
    },
}


def fast_settings(database_url: str, **values: Any) -> Settings:
    """Fast polling and backoff. Pacing per Teams conversation is off unless a test turns it on
    (teams_conversation_limits=…): many tests post faster into one channel than Teams would allow,
    to test other things in seconds (tests/e2e/test_teams_pacing.py holds Beacon to the limits)."""
    return Settings(**{"database_url": database_url, "outbox_base_backoff_seconds": 0.05,
                       "outbox_idle_poll_seconds": 0.2, "scheduler_idle_poll_seconds": 0.5,
                       "teams_conversation_limits": "", **values})


def unconfigured() -> OutsideSettings:
    """No outside system, whatever the environment or a .env file says."""
    return OutsideSettings(graph=GraphSettings(base_url="https://graph.microsoft.com/v1.0", access_token="",
                                               tenant_id="", client_id="", client_secret=""),
                           sms=SmsSettings(provider=""),
                           extra={"freshdesk": FreshdeskSettings(url="", api_key=""),
                                  "voice": VoiceSettings(provider="")})


@dataclass
class Stack:
    """Beacon and the fake connector. Whoever a test sends a message or a click as is in the
    team's roster first (as an install's roster read would have made them): as the fake connector
    describes them when it knows them (a guest, another tenant), else as a member, whom the fake
    then knows too. Tests of the roster itself turn `roster_autofill` off."""

    beacon: BeaconServer
    teams: FakeConnector
    roster_autofill: bool = True
    _in_roster: set[tuple[str, str]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.teams.url

    async def send(self, activity: dict[str, Any]) -> tuple[int, Any]:
        if self.roster_autofill and activity.get("type") in ("message", "invoke"):
            await self._put_in_roster(activity)
        return await self.beacon.activity(activity)

    async def _put_in_roster(self, activity: dict[str, Any]) -> None:
        sender = activity.get("from") or {}
        channel_data = activity.get("channelData") or {}
        team = str((channel_data.get("team") or {}).get("id") or "") or \
            str((activity.get("conversation") or {}).get("id") or "").partition(";messageid=")[0]
        if not sender.get("aadObjectId") or (team, sender["aadObjectId"]) in self._in_roster:
            return
        tenant = str((channel_data.get("tenant") or {}).get("id") or "")
        account = self.teams.member(str(sender.get("id") or ""))
        if account is None:  # a member of the team, then, for Teams' roster reads and look-ups too
            account = self.teams.add_member({**sender, "tenantId": tenant, "userRole": "user"})
        async with self.beacon.deps.uow() as uow:
            await uow.roster.keep(team, [member_of(account)], self.beacon.deps.clock.now())
            await uow.commit()
        self._in_roster.add((team, sender["aadObjectId"]))

    async def invoke_card(self, activity: dict[str, Any]) -> dict[str, Any]:
        """Send an Action.Execute and return the card Teams would show the clicker (validated)."""
        status, body = await self.send(activity)
        assert status == 200, body
        assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive", body
        assert_valid_card(body["value"])
        return body["value"]

    async def invoke_refused(self, activity: dict[str, Any]) -> str:
        """Send an Action.Execute that Beacon should refuse; return the error message Teams shows
        (a Universal Action error: the clicker's card stays as it was)."""
        status, body = await self.send(activity)
        assert status == 200, body
        assert body["statusCode"] == 400 and body["type"] == "application/vnd.microsoft.error", body
        assert set(body["value"]) == {"code", "message"}, body
        return str(body["value"]["message"])

    def every_card_is_valid(self) -> None:
        for message in self.teams.messages():
            for version in message.versions:
                for card in [a["content"] for a in version.get("attachments") or []
                             if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]:
                    assert_valid_card(card)


async def start_stack(database_url: str, config: BeaconConfig | None = None, *,
                      outside: OutsideSettings | None = None, clock: Any = None, **settings: Any) -> Stack:
    """Beacon plus a fake connector. `outside` points Graph, SMS, Freshdesk… at their fakes; by
    default every outside system is unconfigured (its effects are recorded as not sent)."""
    teams = FakeConnector()
    await teams.start()
    beacon = BeaconServer(fast_settings(database_url, **settings),
                          Overrides(config=config or parse_config(E2E_CONFIG), clock=clock,
                                    outside=outside or unconfigured()))
    await beacon.start()
    return Stack(beacon, teams)


@pytest_asyncio.fixture
async def stack(database_url):  # type: ignore[no-untyped-def]
    stack = await start_stack(database_url)
    yield stack
    await stack.beacon.stop()
    await stack.teams.stop()


@pytest.fixture(scope="session", autouse=True)
def warmed_up() -> None:
    """What a started Beacon loads in its warm-up thread (services/warm.py) is loaded before the first
    test, so the stall probe below holds Beacon's code to its steady state, not to a race with it; and
    the report renderer, which Beacon loads on the first drawing (in the drawing thread), so that the
    first report test does not wait seconds for matplotlib while its outbox deadline runs."""
    warm_up(graph=True)
    warm_report()


STALL_LIMIT = 0.1  # seconds of the event loop's CPU in one callback


@pytest.fixture(autouse=True)
def no_stall(request, warmed_up):  # type: ignore[no-untyped-def]
    """Fails any end-to-end test in which Beacon's own code held the event loop for longer than
    STALL_LIMIT in one callback (every other click, post and health check waits that long)."""
    with stall_probe(STALL_LIMIT) as probe:
        yield probe
    if probe.stalls:
        pytest.fail("Beacon stalled the event loop:\n" + "\n".join(str(stall) for stall in probe.stalls),
                    pytrace=False)
