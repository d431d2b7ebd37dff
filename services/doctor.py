"""`python app.py doctor`: a pre-flight check, one line per item, each failure with its fix.

Tenant policy problems (missing admin consent, an application access policy, a mailbox that does
not exist) are the most common reason a Teams incident app fails in its first week, and nothing
else reports them before the first incident. Each check is a small function returning a Check;
an outside system that is not configured at all is a note, not a failure (CONTRACT.md: Beacon
runs without it and records its effects as "not sent"), but one that is configured and fails is.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TextIO

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text

from services.channel_kinds import check_channel_kinds as classify_channels
from services.channels.doctor import check_dedicated_channels
from services.config import BeaconConfig, ConfigError, load_config
from services.delivery import DeliveryError
from services.freshdesk.client import build_ticketing
from services.freshdesk.settings import FreshdeskSettings
from services.graph import GraphSettings, build_graph_adapters
from services.graph.channel_kind import channel_kind
from services.graph.client import connect
from services.graph.errors import PERMISSIONS_DOC
from services.graph.permissions import admin_consent_url, missing_roles, needed_roles, token_app_id, token_claims
from services.installs import check_channels
from services.intake.requester import describe as describe_requester
from services.intake.settings import IntakeSettings
from services.notify.sms.factory import build_sms_sender
from services.notify.sms.settings import SmsSettings
from services.notify.voice import build_voice_caller
from services.notify.voice.settings import VoiceSettings
from services.paging.feed_doctor import feed_checks
from services.roster import check_rosters
from services.paging.feeds import FeedSettings
from services.settings import Settings
from services.store.db import create_engine, migrations_applied, session_factory
from services.store.uow import UnitOfWork

if TYPE_CHECKING:
    from services.graph.adapters import GraphAdapters

Outcome = Literal["ok", "fail", "warn", "skip"]  # a warning says what to look at, and fails nothing
MARKS: dict[Outcome, str] = {"ok": "OK  ", "fail": "FAIL", "warn": "WARN", "skip": "--  "}
TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Check:
    item: str
    outcome: Outcome
    detail: str
    fix: str = ""

    def line(self) -> str:
        detail = self.detail.removeprefix(f"{self.item} not configured: ")
        detail = f"not configured (optional): {detail}" if self.outcome == "skip" else detail
        text = f"{MARKS[self.outcome]} {self.item}: {detail}"
        return f"{text}\n       fix: {self.fix}" if self.fix and self.outcome in ("fail", "warn") else text


class DoctorSettings(BaseSettings):
    """The one setting only the doctor reads: the authority bot tokens come from."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Empty: the SDK's own (https://login.microsoftonline.com/botframework.com, or the tenant for
    # SingleTenant). Sovereign clouds and local fakes set it.
    bot_login_url: str = Field("", validation_alias="BOT_LOGIN_URL")


@dataclass
class Subjects:
    """What the doctor checks; tests point the outside settings at local fakes."""

    settings: Settings
    graph: GraphSettings
    freshdesk: FreshdeskSettings
    sms: SmsSettings
    bot_login_url: str = ""
    voice: VoiceSettings | None = None  # None: from the environment
    intake: IntakeSettings | None = None  # None: from the environment
    feeds: FeedSettings | None = None


TokenGetter = Callable[[Settings, str], str]


def read_config(settings: Settings) -> BeaconConfig | ConfigError:
    """BEACON_CONFIG, read once for every check that needs it, or why it is invalid."""
    try:
        return load_config(settings.config_path)
    except ConfigError as error:
        return error


def check_config(settings: Settings, loaded: BeaconConfig | ConfigError) -> Check:
    if isinstance(loaded, ConfigError):
        return Check("config", "fail", f"{settings.config_path} is invalid: {loaded}",
                     f"correct {settings.config_path} (or point BEACON_CONFIG at a valid file)")
    return Check("config", "ok", f"{settings.config_path} validates ({len(loaded.services)} services)")


async def check_database(settings: Settings) -> Check:
    engine = create_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        async with engine.connect() as connection:
            await asyncio.wait_for(connection.execute(text("SELECT 1")), timeout=5)
        migrated = await migrations_applied(engine)
    except Exception as error:
        return Check("database", "fail", f"{where} is unreachable: {str(error).splitlines()[0][:200]}",
                     "check DATABASE_URL and that the database server runs and accepts Beacon's user")
    finally:
        await engine.dispose()
    if not migrated:
        return Check("database", "fail", f"{where} is reachable but its migrations are not applied",
                     "run `python app.py` once to migrate (it applies migrations at start)")
    return Check("database", "ok", f"{where} is reachable and migrated")


LINK_SECRETS = (("REPORT_LINK_SECRET", "report_link_secret", "report links"),
                ("ACK_LINK_SECRET", "ack_link_secret", "acknowledge links in pages"),
                ("STATUS_LINK_SECRET", "status_link_secret", "clients' status page links"))
NEW_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


def check_link_secrets(settings: Settings) -> Check:
    """The secrets of Beacon's signed links: unset, each process signs with its own random one, so
    a link works only on the replica that made it, and none survives a restart."""
    unset = [(name, what) for name, field, what in LINK_SECRETS if not getattr(settings, field).strip()]
    if not unset:
        return Check("link secrets", "ok", _and([name for name, _, _ in LINK_SECRETS]) + " are set: signed "
                     "links work on every replica and after a restart")
    names, what = _and([name for name, _ in unset]), _and([what for _, what in unset])
    fix = (f"set {names} to long random values ({NEW_SECRET}), the same on every replica: in Azure, "
           "Key Vault secrets (infra/azure/main.bicep asks for them)")
    if settings.can_run_replicas:
        return Check("link secrets", "fail", f"{names} not set while DATABASE_URL is PostgreSQL, where several "
                     f"replicas can run: each would sign {what} with its own random secret, so a link works "
                     "only on the replica that made it, and none after a restart", fix)
    return Check("link secrets", "warn", f"{names} not set: with one process on SQLite, {what} are signed with a "
                 "random secret and stop working when Beacon restarts", fix)


def msal_bot_token(settings: Settings, login_url: str) -> str:
    """A token for the bot, as the Bot Framework SDK gets it (MSAL): from the user-assigned
    managed identity (UserAssignedMSI), else with the client secret."""
    kind = settings.bot_app_type
    if kind == "UserAssignedMSI":
        from botframework.connector.auth import ManagedIdentityAppCredentials

        return str(ManagedIdentityAppCredentials(settings.app_id).get_access_token())
    from botframework.connector.auth import MicrosoftAppCredentials

    tenant = settings.app_tenant_id if kind == "SingleTenant" else None
    credentials = MicrosoftAppCredentials(settings.app_id, settings.app_password, channel_auth_tenant=tenant)
    if login_url:
        credentials.oauth_endpoint = login_url.rstrip("/")
    return str(credentials.get_access_token())


async def check_bot_credentials(settings: Settings, login_url: str = "",
                                get_token: TokenGetter = msal_bot_token) -> Check:
    if not settings.app_id:
        return Check("bot credentials", "ok", "local mode: MicrosoftAppId is empty, so Beacon accepts only "
                     "unauthenticated requests (Emulator, the playground at /playground)")
    if problem := settings.registration_problem():
        detail, _, fix = problem.partition(": ")
        return Check("bot credentials", "fail", detail, fix)
    kind = settings.bot_app_type
    if kind == "MultiTenant" and not settings.app_password:
        return Check("bot credentials", "fail", f"MicrosoftAppId {settings.app_id} has no MicrosoftAppPassword",
                     "set MicrosoftAppPassword to a client secret of the Azure Bot's app registration")
    source = "its managed identity" if kind == "UserAssignedMSI" else "its client secret"
    try:
        token = await asyncio.wait_for(asyncio.to_thread(get_token, settings, login_url), TIMEOUT_SECONDS)
    except Exception as error:
        fix = ("check that the user-assigned managed identity whose client id is MicrosoftAppId is assigned to "
               "this app (container app → Identity) and that MicrosoftAppTenantId is its tenant"
               if kind == "UserAssignedMSI" else
               "check MicrosoftAppPassword (a secret that has not expired), MicrosoftAppType and "
               "MicrosoftAppTenantId against the app registration")
        return Check("bot credentials", "fail", f"no token for MicrosoftAppId {settings.app_id} ({kind}, from "
                     f"{source}): {error!r}"[:400], fix)
    if not token:
        return Check("bot credentials", "fail", "the token endpoint answered without a token",
                     "check BOT_LOGIN_URL")
    return Check("bot credentials", "ok", f"MicrosoftAppId {settings.app_id} ({kind}) gets a Bot Framework "
                 f"token from {source}")


async def check_graph(settings: GraphSettings, public_url: str = "", *, channels: bool = False) -> list[Check]:
    if not settings.configured:
        return [Check("Graph", "skip", "; ".join(settings.missing()),
                      f"optional; for meetings, email and calls follow {PERMISSIONS_DOC}")]
    adapters = build_graph_adapters(settings)
    try:
        problems = await asyncio.wait_for(adapters.check(), TIMEOUT_SECONDS)
        token = "" if problems_block_token(problems) else await _app_token(adapters)
    except Exception as error:
        problems, token = [f"Graph did not answer: {error!r}"], ""
    finally:
        await adapters.aclose()
    organizer = adapters.organizer.known if adapters.organizer is not None else ""
    fix = f"grant the application permission named above with admin consent ({PERMISSIONS_DOC})"
    checks = [Check("Graph", "fail", problem, fix) for problem in problems if "not configured" not in problem]
    checks += [Check("Graph", "skip", problem, "optional") for problem in problems if "not configured" in problem]
    if not any(check.outcome == "fail" for check in checks):
        mailboxes = [m for m in (settings.organizer_user_id, settings.mail_sender) if m]
        found = f"; mailboxes exist: {', '.join(mailboxes)}" if mailboxes else ""
        if organizer and organizer != settings.organizer_user_id:
            found += f"; onlineMeetings organizer {settings.organizer_user_id} is object id {organizer}"
        checks.insert(0, Check("Graph", "ok", f"{settings.base_url} accepts Beacon's credentials{found}"))
    if token:
        checks += permission_checks(settings, token, ringing=bool(settings.caller_app_id and public_url),
                                    channels=channels)
    return checks


def problems_block_token(problems: list[str]) -> bool:
    return any("credentials" in problem or "did not answer" in problem for problem in problems)


async def _app_token(adapters: GraphAdapters) -> str:
    try:
        return await asyncio.wait_for(adapters.app_token(), TIMEOUT_SECONDS)
    except Exception:
        return ""  # the credentials line above already says why Graph refused


def permission_checks(settings: GraphSettings, token: str, *, ringing: bool, channels: bool = False) -> list[Check]:
    """Each application permission the settings use, read from the `roles` of Beacon's own token;
    and for ringing, that the token is the bot's own app (else Graph answers 7503)."""
    claims = token_claims(token)
    if claims is None:
        return [Check("Graph permissions", "skip", "GRAPH_ACCESS_TOKEN is not a JWT, so its permissions cannot "
                      "be read", "optional")]
    needs = needed_roles(settings, ringing, channels)
    missing = missing_roles(claims, needs)
    consent = admin_consent_url(settings, claims)
    checks = [Check("Graph permission", "fail", f"{need.role} is not granted (needed for {need.why})",
                    f"add the application permission {need.role} to the app registration and grant admin consent: "
                    f"{consent} (see {PERMISSIONS_DOC}); Beacon sees it with its next token") for need in missing]
    if not missing:
        checks.append(Check("Graph permissions", "ok", "the token carries "
                            + ", ".join(need.role for need in needs)))
    app = token_app_id(claims)
    if ringing and app != settings.caller_app_id:
        checks.append(Check("calling", "fail", f"Graph's token is for app {app or '(unknown)'} but calls come from "
                            f"the bot {settings.caller_app_id}: Graph refuses such calls with 7503",
                            "give Graph the bot's own app registration: AZURE_CLIENT_ID = MicrosoftAppId with a "
                            "secret of that app (or the bot's managed identity)"))
    elif ringing:
        checks.append(Check("calling", "ok", f"calls are placed by the bot's own app {app}"))
    return checks


async def check_freshdesk(settings: FreshdeskSettings) -> Check:
    client, reason = build_ticketing(settings)
    if client is None:
        fixable = settings.url or settings.api_key.get_secret_value()
        return Check("Freshdesk", "fail" if fixable else "skip", reason,
                     "set FRESHDESK_URL and FRESHDESK_API_KEY" if fixable else "optional")
    try:
        return Check("Freshdesk", "ok", await asyncio.wait_for(client.check(), TIMEOUT_SECONDS))
    except (DeliveryError, TimeoutError) as error:
        return Check("Freshdesk", "fail", str(error) or "no answer",
                     "copy the API key again (Freshdesk: Profile settings → View API key) and check FRESHDESK_URL")
    finally:
        await client.aclose()


def check_ticket_requester(freshdesk: FreshdeskSettings, intake: IntakeSettings, graph: GraphSettings) -> Check:
    """Freshdesk refuses a ticket without a requester: say who Beacon files tickets as."""
    if freshdesk.missing():
        return Check("Freshdesk requester", "skip", "Freshdesk is not configured")
    every, words = describe_requester(intake, graph.mail_sender, graph_lookup=graph.configured)
    return Check("Freshdesk requester", "ok" if every else "fail", words,
                 "set FRESHDESK_REQUESTER_EMAIL (e.g. the service desk's address) or MAIL_SENDER")


async def check_sms(settings: SmsSettings) -> Check:
    sender, reason = build_sms_sender(settings)
    if sender is None:
        outcome: Outcome = "fail" if settings.provider else "skip"
        return Check("SMS", outcome, reason, "see SMS_PROVIDER in the README" if settings.provider else "optional")
    try:
        return Check("SMS", "ok", await asyncio.wait_for(sender.check(), TIMEOUT_SECONDS))
    except Exception as error:
        return Check("SMS", "fail", str(error) or repr(error), "check the SMS provider's credentials and SMS_FROM")
    finally:
        await sender.aclose()


async def check_voice(settings: VoiceSettings, public_url: str) -> Check:
    """Configured, not configured, or what is missing (BEACON_PUBLIC_URL included: Twilio posts the
    key press there); when configured, the credentials work and the caller id is the account's."""
    caller, reason = build_voice_caller(settings, public_url)
    if caller is None:
        outcome: Outcome = "fail" if settings.provider else "skip"
        return Check("voice", outcome, reason, "see 'Paging by phone' in the README" if settings.provider
                     else "optional; VOICE_PROVIDER=twilio pages by phone")
    try:
        detail = await asyncio.wait_for(caller.check(), TIMEOUT_SECONDS)
    except Exception as error:
        return Check("voice", "fail", str(error) or repr(error),
                     "check TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and that VOICE_FROM is a voice-capable number "
                     "or verified caller id of that account")
    finally:
        await caller.aclose()
    return Check("voice", "ok", f"{detail} Key presses come back to {public_url.rstrip('/')}/voice/twilio/…")


async def check_feeds(config: BeaconConfig | None, feeds: FeedSettings | None = None) -> list[Check]:
    """One line per schedule fed by an iCalendar URL (none when no schedule has ical_url).
    `config` None: it is invalid, and the config line already says why (so do the others)."""
    if config is None:
        return []
    try:
        lines = await asyncio.wait_for(feed_checks(config, feeds or FeedSettings()), TIMEOUT_SECONDS * 2)
    except TimeoutError:
        return [Check("on-call feeds", "fail", "the calendar servers did not answer in time",
                      "check that Beacon can reach the ical_url hosts")]
    return [Check("on-call feed", outcome, detail, fix) for outcome, detail, fix in lines]  # type: ignore[arg-type]


async def check_teams_delivery(settings: Settings) -> list[Check]:
    """A line per Teams conversation that refused Beacon's posts for good (403, 404, 400), with
    the fix, until a post there works again or Beacon is installed there again."""
    engine = create_engine(settings.database_url)
    try:
        if not await migrations_applied(engine):
            return []  # the database line says so
        async with UnitOfWork(session_factory(engine)) as uow:
            problems = await uow.teams_problems.all()
    except Exception:
        return []  # the database line says what is wrong
    finally:
        await engine.dispose()
    return [Check("Teams delivery", "fail", f"{p.problem} (since {p.since:%Y-%m-%d %H:%M} UTC, "
                  f"{p.failures} post(s) refused)", p.fix) for p in problems]


async def check_teams_installs(settings: Settings, config: BeaconConfig | None) -> list[Check]:
    """A line per configured channel: is it in a team where Beacon is installed (as far as Teams
    told Beacon: installs, removals, deleted teams, channel events)."""
    if config is None:
        return []
    engine = create_engine(settings.database_url)
    try:
        if not await migrations_applied(engine):
            return []  # the database line says so
        async with UnitOfWork(session_factory(engine)) as uow:
            checks = await check_channels(uow, config)
    except Exception:
        return []  # the database line says what is wrong
    finally:
        await engine.dispose()
    return [Check("Teams install", c.outcome, c.detail, c.fix) for c in checks]  # type: ignore[arg-type]


async def check_channel_kinds(settings: Settings, graph: GraphSettings, config: BeaconConfig | None) -> list[Check]:
    """A line per configured channel Graph can place, in every installed team: Teams refuses
    Beacon's cards in private and shared channels (services/channel_kinds.py)."""
    if not graph.configured or config is None:
        return []  # the Graph line says it is optional, the config line why the file is invalid
    engine = create_engine(settings.database_url)
    connection = connect(graph)

    async def kind_of(group_id: str, channel_id: str) -> str:
        return await asyncio.wait_for(channel_kind(connection.client, group_id, channel_id), TIMEOUT_SECONDS)
    try:
        if not await migrations_applied(engine):
            return []
        checks = await classify_channels(lambda: UnitOfWork(session_factory(engine)), config, kind_of)
    except Exception as error:
        return [Check("Teams channel", "warn", f"could not check the channels' kinds: {error!r}",
                      "see the database and Microsoft Graph lines")]
    finally:
        await engine.dispose()
        await connection.aclose()
    return [Check("Teams channel", c.outcome, c.detail, c.fix) for c in checks]  # type: ignore[arg-type]


async def check_teams_roster(settings: Settings) -> list[Check]:
    """A line per team Beacon is installed in: how many of its people Beacon knows."""
    engine = create_engine(settings.database_url)
    try:
        if not await migrations_applied(engine):
            return []
        async with UnitOfWork(session_factory(engine)) as uow:
            checks = await check_rosters(uow)
    except Exception:
        return []  # the database line says what is wrong
    finally:
        await engine.dispose()
    return [Check("Teams roster", c.outcome, c.detail, c.fix) for c in checks]  # type: ignore[arg-type]


async def check_channels_in_use(settings: Settings, graph: GraphSettings,
                                config: BeaconConfig | None) -> list[Check]:
    """With channels.dedicated_for: where incident channels go and how many the team has in use."""
    if config is None or not config.channels.dedicated_for:
        return []
    engine = create_engine(settings.database_url)
    try:
        if not await migrations_applied(engine):
            return []
        async with UnitOfWork(session_factory(engine)) as uow:
            checks = await check_dedicated_channels(uow, config, graph)
    except Exception as error:
        return [Check("dedicated channels", "fail", f"could not check: {error!r}", "see the lines above")]
    finally:
        await engine.dispose()
    return [Check("dedicated channels", c.outcome, c.detail, c.fix) for c in checks]


async def run_checks(subjects: Subjects, get_token: TokenGetter = msal_bot_token) -> list[Check]:
    loaded = read_config(subjects.settings)
    config = loaded if isinstance(loaded, BeaconConfig) else None
    checks = [check_config(subjects.settings, loaded), await check_database(subjects.settings),
              await check_bot_credentials(subjects.settings, subjects.bot_login_url, get_token),
              check_link_secrets(subjects.settings)]
    checks += await check_teams_installs(subjects.settings, config)
    checks += await check_channel_kinds(subjects.settings, subjects.graph, config)
    checks += await check_teams_roster(subjects.settings)
    checks += await check_teams_delivery(subjects.settings)
    checks += await check_graph(subjects.graph, subjects.settings.public_url,
                                channels=bool(config and config.channels.dedicated_for))
    checks += await check_channels_in_use(subjects.settings, subjects.graph, config)
    checks += [await check_freshdesk(subjects.freshdesk),
               check_ticket_requester(subjects.freshdesk, subjects.intake or IntakeSettings(), subjects.graph),
               await check_sms(subjects.sms),
               await check_voice(subjects.voice or VoiceSettings(), subjects.settings.public_url)]
    checks += await check_feeds(config, subjects.feeds)
    return checks


def report(checks: Iterable[Check], out: TextIO) -> int:
    """Print the lines; exit code 1 when something failed."""
    checks = list(checks)
    for check in checks:
        print(check.line(), file=out)
    failed = sum(check.outcome == "fail" for check in checks)
    print(f"{failed} problem(s) found." if failed else "Beacon is ready.", file=out)
    return 1 if failed else 0


def default_subjects(settings: Settings) -> Subjects:
    return Subjects(settings, GraphSettings(), FreshdeskSettings(), SmsSettings(),
                    DoctorSettings().bot_login_url)


async def doctor(subjects: Subjects, out: TextIO = sys.stdout,
                 get_token: TokenGetter = msal_bot_token) -> int:
    return report(await run_checks(subjects, get_token), out)


def main(settings: Settings) -> int:
    return asyncio.run(doctor(default_subjects(settings)))
