"""`python app.py doctor` against a fake Graph and a fake Freshdesk, in-process and as a subprocess."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path
from typing import Any

import jwt
from pydantic import SecretStr

from services.doctor import Subjects, check_bot_credentials, doctor
from services.freshdesk.settings import FreshdeskSettings
from services.graph import GraphSettings
from services.intake.settings import IntakeSettings
from services.notify.sms.settings import SmsSettings
from services.notify.voice.settings import VoiceSettings
from services.settings import Settings
from services.store.db import create_engine, migrate
from tests.fakes.freshdesk import FakeFreshdesk
from tests.fakes.graph import FakeGraph, object_id
from tests.fakes.twilio_voice import OWNED_NUMBER, FakeTwilioVoice

ROOT = Path(__file__).parents[2]
BOT_APP_ID = "8e3b1f52-7c4d-4a9e-b6f0-2d1c3a5e7b90"
TENANT = "72f988bf-0000-0000-0000-2d7cd011db47"


async def migrated(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/doctor.db"
    engine = create_engine(url)
    await migrate(engine)
    await engine.dispose()
    return url


def subjects(db: str, graph: FakeGraph, freshdesk: FakeFreshdesk, key: str = "fd-test-api-key") -> Subjects:
    return Subjects(Settings(database_url=db, app_id="", config_path=str(ROOT / "config/beacon.yaml")),
                    GraphSettings(base_url=graph.base_url, access_token="t", organizer_user_id="noc@contoso.com",
                                  mail_sender="noc@contoso.com", tenant_id="", client_id="", client_secret=""),
                    FreshdeskSettings(url=freshdesk.url, api_key=key), SmsSettings(provider=""),
                    voice=VoiceSettings(_env_file=None, provider=""))  # type: ignore[call-arg]


async def run(subject: Subjects) -> tuple[int, str]:
    out = io.StringIO()
    code = await doctor(subject, out)
    return code, out.getvalue()


async def test_all_good_is_exit_0_with_ok_lines(tmp_path: Path) -> None:
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk:
        code, text = await run(subjects(await migrated(tmp_path), graph, freshdesk))
    assert code == 0, text
    for item in ("config", "database", "bot credentials", "Graph", "Freshdesk"):
        assert f"OK   {item}:" in text, text
    assert "local mode" in text and "--   SMS: " in text and "Beacon is ready." in text
    assert "--   voice: not configured (optional): VOICE_PROVIDER is empty (twilio)" in text


async def test_voice_is_checked_at_twilio_and_needs_a_public_address_for_key_presses(tmp_path: Path) -> None:
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk, FakeTwilioVoice() as twilio:
        base = subjects(await migrated(tmp_path), graph, freshdesk)

        def with_voice(public_url: str, caller_id: str = OWNED_NUMBER) -> Subjects:
            voice = VoiceSettings(_env_file=None, VOICE_PROVIDER="twilio", VOICE_FROM=caller_id,  # type: ignore[call-arg]
                                  TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_AUTH_TOKEN=twilio.auth_token,
                                  TWILIO_BASE_URL=twilio.url)
            settings = base.settings.model_copy(update={"public_url": public_url})
            return Subjects(settings, base.graph, base.freshdesk, base.sms, voice=voice)

        code, text = await run(with_voice("https://beacon.contoso.com"))
        assert code == 0, text
        assert "OK   voice: Twilio account 'Beacon test account' (active) accepts the credentials; calls come " \
               "from +15005550006. Key presses come back to https://beacon.contoso.com/voice/twilio/" in text
        code, text = await run(with_voice(""))
        assert code == 1 and "FAIL voice: BEACON_PUBLIC_URL is empty" in text and "Paging by phone" in text
        code, text = await run(with_voice("https://beacon.contoso.com", caller_id="+15005550009"))
        assert code == 1 and "FAIL voice: +15005550009 is neither a number nor a verified caller id" in text


async def test_a_wrong_freshdesk_key_and_a_graph_403_fail_with_their_fix(tmp_path: Path) -> None:
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk:
        graph.fail_next(5, 403, path_contains="/users/", code="ErrorAccessDenied",
                        message="Access is denied. Check credentials and try again.")
        code, text = await run(subjects(await migrated(tmp_path), graph, freshdesk, key="wrong"))
    assert code == 1, text
    assert "FAIL Graph:" in text and "FAIL Freshdesk:" in text and "401" in text
    assert text.count("fix: ") >= 2 and "infra/graph-permissions.md" in text


async def test_doctor_says_who_freshdesk_tickets_are_filed_as(tmp_path: Path) -> None:
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk:
        db = await migrated(tmp_path)
        nobody = subjects(db, graph, freshdesk)
        nobody.graph = nobody.graph.model_copy(update={"mail_sender": ""})
        nobody.intake = IntakeSettings(_env_file=None)  # type: ignore[call-arg]
        code, text = await run(nobody)
        assert code == 1, text
        assert "FAIL Freshdesk requester:" in text and "incidents from alerts" in text
        assert "fix: set FRESHDESK_REQUESTER_EMAIL" in text

        sender = subjects(db, graph, freshdesk)
        sender.intake = IntakeSettings(_env_file=None)  # type: ignore[call-arg]
        code, text = await run(sender)
        assert code == 0, text
        assert ("OK   Freshdesk requester: tickets are filed as a client's contact, else the declaring person's "
                "email from the directory or Microsoft Graph, else MAIL_SENDER (noc@contoso.com)") in text

        desk = subjects(db, graph, freshdesk)
        desk.intake = IntakeSettings(_env_file=None, FRESHDESK_REQUESTER_EMAIL="desk@contoso.com")  # type: ignore[call-arg]
        code, text = await run(desk)
        assert "OK   Freshdesk requester: tickets are filed as FRESHDESK_REQUESTER_EMAIL (desk@contoso.com)" in text


async def test_doctor_names_the_online_meetings_organizer_by_object_id(tmp_path: Path) -> None:
    async with FakeGraph(known_users={"noc@contoso.com"}) as graph, FakeFreshdesk() as freshdesk:
        db = await migrated(tmp_path)
        good = subjects(db, graph, freshdesk)
        good.graph = good.graph.model_copy(update={"meeting_mode": "onlineMeetings"})
        code, text = await run(good)
        assert code == 0, text
        assert f"onlineMeetings organizer noc@contoso.com is object id {object_id('noc@contoso.com')}" in text
        gone = subjects(db, graph, freshdesk)
        gone.graph = gone.graph.model_copy(update={"meeting_mode": "onlineMeetings",
                                                   "organizer_user_id": "gone@contoso.com"})
        code, text = await run(gone)
    assert code == 1 and "FAIL Graph: Graph look up GRAPH_ORGANIZER_USER_ID gone@contoso.com" in text, text


def graph_token(roles: list[str], app_id: str = BOT_APP_ID) -> str:
    """An app-only Graph token as Entra ID issues it: roles and appid among its claims."""
    claims = {"aud": "https://graph.microsoft.com", "iss": f"https://sts.windows.net/{TENANT}/", "tid": TENANT,
              "appid": app_id, "idtyp": "app", "roles": roles, "exp": 4102444800}
    return jwt.encode(claims, "not-checked-by-the-doctor-" * 2, algorithm="HS256")


ALL_ROLES = ["User.Read.All", "Calendars.ReadWrite", "Mail.Send", "Calls.Initiate.All", "Calls.InitiateGroupCall.All"]


async def test_doctor_reads_each_application_permission_from_beacons_own_token(tmp_path: Path) -> None:
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk:
        db = await migrated(tmp_path)

        def with_token(token: str, public_url: str = "https://beacon.contoso.com") -> Subjects:
            base = subjects(db, graph, freshdesk)
            base.settings = base.settings.model_copy(update={"public_url": public_url})
            base.graph = base.graph.model_copy(update={"access_token": SecretStr(token), "bot_app_id": BOT_APP_ID,
                                                       "tenant_id": TENANT})
            return base

        code, text = await run(with_token(graph_token(ALL_ROLES)))
        assert code == 0, text
        assert "OK   Graph permissions: the token carries " + ", ".join(ALL_ROLES) in text
        assert f"OK   calling: calls are placed by the bot's own app {BOT_APP_ID}" in text

        code, text = await run(with_token(graph_token(["User.Read.All", "Calendars.ReadWrite"])))
        consent = f"https://login.microsoftonline.com/{TENANT}/adminconsent?client_id={BOT_APP_ID}"
        assert code == 1, text
        for role in ("Mail.Send", "Calls.Initiate.All", "Calls.InitiateGroupCall.All"):
            assert f"FAIL Graph permission: {role} is not granted" in text
        assert text.count(consent) == 3 and "OnlineMeetings" not in text
        code, text = await run(with_token(graph_token(["User.Read.All", "Calendars.ReadWrite", "Mail.Send"]),
                                          public_url=""))
        assert code == 0 and "Calls." not in text, text  # no ringing without a public address

        code, text = await run(with_token(graph_token(ALL_ROLES, app_id="0f0f0f0f-1111-2222-3333-444444444444")))
        assert code == 1 and "FAIL calling: Graph's token is for app 0f0f0f0f-1111-2222-3333-444444444444" in text
        assert "7503" in text and "AZURE_CLIENT_ID = MicrosoftAppId" in text
    assert not [r for r in graph.requests if "/communications" in r.path or "sendMail" in r.path]


async def test_an_unmigrated_database_says_how_to_migrate(tmp_path: Path) -> None:
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk:
        code, text = await run(subjects(f"sqlite+aiosqlite:///{tmp_path}/empty.db", graph, freshdesk))
    assert code == 1 and "run `python app.py` once to migrate" in text


async def test_bot_credentials_that_get_no_token_fail_with_the_fix() -> None:
    def refuse(settings: Settings, login_url: str) -> str:
        raise PermissionError("AADSTS7000215: Invalid client secret provided.")

    check = await check_bot_credentials(Settings(app_id="11111111-2222-3333-4444-555555555555",
                                                 app_tenant_id=TENANT, app_password="wrong"), get_token=refuse)
    assert check.outcome == "fail" and "AADSTS7000215" in check.line() and "MicrosoftAppPassword" in check.fix


async def test_python_app_py_doctor_as_a_subprocess(tmp_path: Path) -> None:
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk:
        env: dict[str, Any] = {**os.environ, "DATABASE_URL": await migrated(tmp_path), "MicrosoftAppId": "",
                               "GRAPH_BASE_URL": graph.base_url, "GRAPH_ACCESS_TOKEN": "t",
                               "GRAPH_ORGANIZER_USER_ID": "noc@contoso.com", "MAIL_SENDER": "",
                               "FRESHDESK_URL": freshdesk.url, "FRESHDESK_API_KEY": "wrong",
                               "SMS_PROVIDER": "", "BEACON_CONFIG": str(ROOT / "config/beacon.yaml")}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "app.py", "doctor", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode == 1, text
    assert "OK   Graph:" in text and "FAIL Freshdesk:" in text and "fix: " in text


LINK_SECRETS = {"report_link_secret": "report-links-shared", "ack_link_secret": "ack-links-shared",
                "status_link_secret": "status-links-shared"}


async def test_link_secrets_are_required_where_several_replicas_can_run(database_url: str) -> None:
    """On PostgreSQL several replicas share the database: a link signed with one replica's random
    secret would fail on the others, so the doctor fails until every link secret is set."""
    engine = create_engine(database_url)
    await migrate(engine)
    await engine.dispose()
    postgresql = database_url.startswith("postgresql")
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk:
        unset = subjects(database_url, graph, freshdesk)
        unset.settings = unset.settings.model_copy(update={"ack_link_secret": "ack-links-shared"})
        code, text = await run(unset)
        if postgresql:
            assert code == 1, text
            assert ("FAIL link secrets: REPORT_LINK_SECRET and STATUS_LINK_SECRET not set while DATABASE_URL is "
                    "PostgreSQL, where several replicas can run") in text
            assert "fix: set REPORT_LINK_SECRET and STATUS_LINK_SECRET to long random values" in text
        else:  # one process: links only stop working at a restart, which is worth a warning
            assert code == 0, text
            assert "WARN link secrets: REPORT_LINK_SECRET and STATUS_LINK_SECRET not set: with one process" in text
        set_ = subjects(database_url, graph, freshdesk)
        set_.settings = set_.settings.model_copy(update=LINK_SECRETS)
        code, text = await run(set_)
    assert code == 0, text
    assert ("OK   link secrets: REPORT_LINK_SECRET, ACK_LINK_SECRET and STATUS_LINK_SECRET are set: signed links "
            "work on every replica and after a restart") in text


async def test_the_doctor_reads_the_config_file_once(tmp_path: Path, monkeypatch: Any) -> None:
    import services.doctor as doctor_module

    read: list[str] = []
    real = doctor_module.load_config

    def counted(path: str) -> Any:
        read.append(str(path))
        return real(path)

    monkeypatch.setattr(doctor_module, "load_config", counted)
    async with FakeGraph() as graph, FakeFreshdesk() as freshdesk:
        code, text = await run(subjects(await migrated(tmp_path), graph, freshdesk))
    assert code == 0, text
    assert read == [str(ROOT / "config/beacon.yaml")]  # every check that needs it is given the one reading
