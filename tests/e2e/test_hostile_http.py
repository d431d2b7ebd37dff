"""Hostile HTTP: thousands of malformed requests into every endpoint of one real Beacon on loopback.

Every answer must be below 500, a 4xx must carry a JSON `{"error": "..."}`, and no stored row may
change: a hash of every table, read straight from the SQLite file, is compared before and after each
request. The requests are random bytes, wrong content types, other JSON, the real payloads with one
field missing or of a wrong type, bodies over the limits (also chunked, also a gzip bomb), deep
nesting, huge numbers, and missing or wrong credentials. Each test ends with one valid request and
checks that the snapshot does change, so a snapshot that could not see a change would fail.

Beacon runs in a thread with its own event loop, and hypothesis drives it with blocking HTTP, so
one server and one database serve every example. SQLite only: input validation does not depend on
the database. The seed is fixed (derandomize), so CI sees the same requests every run.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import hashlib
import http.client
import json
import re
import sqlite3
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import Overrides
from bot.wiring import OutsideSettings
from services.bridge.model import call_key
from services.bridge.tables import BridgeCallRow
from services.clock import FakeClock
from services.config import parse_config
from services.freshdesk.settings import FreshdeskSettings
from services.intake.settings import IntakeSettings
from services.review.links import ReportLinks
from tests.e2e.conftest import E2E_CONFIG, fast_settings, unconfigured
from tests.fakes.connector import FakeConnector
from tests.harness import BeaconServer
from tests.teams_activities import channel_message, installation_update

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data" / "alerts"
TOKEN = "hostile-alerts-token"
SECRET = "hostile-freshdesk-secret"
LINK_SECRET = "hostile-report-link-secret"
PUBLIC_URL = "http://beacon.test"
CALL_ID = "2e1a0b00-b3c5-4b0f-99b3-c133bc1e6116"
KIB = 1024
ACTIVITY_LIMIT, NOTIFICATION_LIMIT, WEBHOOK_LIMIT = 256 * KIB, 256 * KIB, 1024 * KIB
JSON_TYPE = {"Content-Type": "application/json"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}

HOSTILE = settings(max_examples=450, derandomize=True, deadline=None, database=None, print_blob=False,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.large_base_example, HealthCheck.filter_too_much])


# -- the server, its requests and its stored state ---------------------------------------------

@dataclass(frozen=True)
class Hostile:
    """One request, and the statuses it may get (`expect` None: any answer below 500)."""

    why: str
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    expect: frozenset[int] | None = frozenset({400})
    chunked: bool = False

    def __repr__(self) -> str:
        body = self.body[:200] + (b"..." if len(self.body) > 200 else b"")
        path = self.path[:200] + ("..." if len(self.path) > 200 else "")
        return (f"Hostile({self.why!r}, {self.method} {path}, headers={self.headers!r}, "
                f"{len(self.body)} bytes{' chunked' if self.chunked else ''}: {body!r}, expect={self.expect})")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # what hypothesis prints for a failure
        printer.text(repr(self))


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


class LiveBeacon:
    """Beacon and a fake Teams connector in a thread of their own; requests are plain blocking HTTP
    and the stored state is read from the SQLite file by a connection of the test's own."""

    def __init__(self, database: Path):
        self.database = database
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hostile-beacon", daemon=True)
        self.teams = FakeConnector()
        self.server = BeaconServer(
            fast_settings(f"sqlite+aiosqlite:///{database}", app_id="", allowed_tenant_ids="",
                          report_link_secret=LINK_SECRET, public_url=PUBLIC_URL),
            Overrides(config=parse_config(E2E_CONFIG), clock=FakeClock(), outside=_outside(),
                      start_worker=False))  # no deliveries: only requests may change the store
        self.links = ReportLinks(LINK_SECRET, PUBLIC_URL, timedelta(days=30))
        self._http: http.client.HTTPConnection | None = None
        self._store: sqlite3.Connection | None = None

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def start(self) -> None:
        self.thread.start()
        self.run(self.teams.start())
        self.run(self.server.start())
        self._http = http.client.HTTPConnection("127.0.0.1", int(self.server.url.rsplit(":", 1)[1]), timeout=30)
        self._store = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)

    def stop(self) -> None:
        if self._http:
            self._http.close()
        if self._store:
            self._store.close()
        self.run(self.server.stop())
        self.run(self.teams.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=20)
        self.loop.close()

    def send(self, request: Hostile) -> Answer:
        assert self._http is not None
        for attempt in (1, 2):
            try:
                body: Any = iter([request.body]) if request.chunked else request.body
                self._http.request(request.method, request.path, body=body, headers=request.headers,
                                   encode_chunked=request.chunked)
                response = self._http.getresponse()
                return Answer(response.status, response.getheader("Content-Type", ""), response.read())
            except (ConnectionError, http.client.HTTPException):
                self._http.close()  # the server closed a kept-alive connection: once more on a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def snapshot(self) -> dict[str, tuple[int, str]]:
        """Each table's row count and a hash of its rows, in any order."""
        assert self._store is not None
        tables = [name for (name,) in self._store.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        state = {}
        for name in tables:
            rows = sorted(repr(row) for row in self._store.execute(f'SELECT * FROM "{name}"'))
            state[name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        return state

    def refuses(self, request: Hostile, before: dict[str, tuple[int, str]]) -> Answer:
        answer = self.send(request)
        assert answer.status < 500, f"{answer.status} {answer.body[:300]!r}"
        if request.expect is not None:
            assert answer.status in request.expect, f"{answer.status} {answer.body[:300]!r}"
        if 400 <= answer.status < 500:
            assert answer.content_type.startswith("application/json"), answer
            error = json.loads(answer.body)
            assert isinstance(error, dict) and isinstance(error.get("error"), str) and error["error"], error
            assert len(answer.body) <= 2 * KIB, f"the error echoes the input: {answer.body[:300]!r}…"
        changed = _changed(before, self.snapshot())
        assert not changed, f"{request.why}: answered {answer.status}, yet changed {changed}"
        return answer

    def accepts(self, request: Hostile, before: dict[str, tuple[int, str]]) -> None:
        """A valid request does change the store: the snapshot can see what the property forbids."""
        answer = self.send(request)
        assert 200 <= answer.status < 300, f"{answer.status} {answer.body[:300]!r}"
        assert _changed(before, self.snapshot()), f"{request.why} changed nothing the snapshot could see"


def _changed(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    return [name for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]


def _outside() -> OutsideSettings:
    outside = unconfigured()
    outside.extra = {
        "intake": IntakeSettings(_env_file=None, ALERTS_WEBHOOK_TOKEN=TOKEN),  # type: ignore[call-arg]
        "freshdesk": FreshdeskSettings(_env_file=None, FRESHDESK_URL="", FRESHDESK_API_KEY="",  # type: ignore[call-arg]
                                       FRESHDESK_WEBHOOK_SECRET=SECRET),
    }
    return outside


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def post(why: str, path: str, body: Any, headers: dict[str, str] | None = None, **extra: Any) -> Hostile:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Hostile(why, "POST", path, raw, {**JSON_TYPE, **(headers or {})}, **extra)


ALERT_SAMPLES = {"alertmanager": "alertmanager_v4_payments_firing", "grafana": "grafana_docs_firing",
                 "azure-monitor": "azure_monitor_log_sev0_fired"}
REPORT = {"ticket_id": "202", "subject": "Checkout is down", "description": "<p>Card payments fail</p>",
          "priority": "Urgent", "requester_email": "Dana <dana@contoso.com>", "company": "Contoso",
          "tags": "checkout, payments", "url": ""}


def notification(call_id: str = CALL_ID, state: str = "established") -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.commsNotification", "changeType": "updated",
            "resourceUrl": f"/communications/calls/{call_id}",
            "resourceData": {"@odata.type": "#microsoft.graph.call", "state": state, "id": call_id}}


def roster(call_id: str = CALL_ID) -> dict[str, Any]:
    return {"changeType": "updated", "resourceUrl": f"/communications/calls/{call_id}/participants",
            "resourceData": [{"info": {"identity": {"user": {"id": "u-1", "displayName": "Bob"}}}}]}


@pytest.fixture(scope="module")
def beacon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBeacon]:
    """One Beacon with something in every kind of row: an installation, INC-1 from an alert (with its
    outbox and timeline), a reported issue, and a call that Graph may report on."""
    live = LiveBeacon(tmp_path_factory.mktemp("hostile") / "beacon.db")
    live.start()
    try:
        seed = [post("install", "/api/messages", installation_update(service_url=live.teams.url)),
                post("alert", "/api/alerts/alertmanager", load(ALERT_SAMPLES["alertmanager"]), BEARER),
                post("report", "/api/freshdesk", {**REPORT, "ticket_id": "101"}, {"X-Beacon-Secret": SECRET})]
        for request in seed:
            assert live.send(request).status in (200, 201), request
        live.run(_place_call(live))
        yield live
    finally:
        live.stop()


async def _place_call(live: LiveBeacon) -> None:
    now = live.server.deps.clock.now()
    async with live.server.deps.uow() as uow:
        uow.session.add(BridgeCallRow(call_key=call_key(CALL_ID), call_id=CALL_ID, incident_id=1,
                                      state="establishing", targets=[], participants=[], started_at=now,
                                      updated_at=now))
        await uow.commit()


# -- JSON, right and wrong ---------------------------------------------------------------------

MISSING = object()  # as a drawn value: delete the field
KINDS: dict[type, str] = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string",
                          list: "array", dict: "object"}
scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
           | st.integers(min_value=10**20, max_value=10**30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)


def wrong(*allowed: str) -> st.SearchStrategy[Any]:
    """Any JSON value whose type is none of `allowed` (JSON Schema's type names)."""
    return json_values.filter(lambda value: KINDS[type(value)] not in allowed)


HUGE_TEXT = st.integers(1_000, 100_000).map(lambda size: "x" * size)  # echoed in full, it would bloat the 400


def text_except(*valid: str) -> st.SearchStrategy[str]:
    return (st.text(max_size=16) | HUGE_TEXT).filter(lambda value: value not in valid)


def list_with_a_wrong_item(*allowed: str) -> st.SearchStrategy[list[Any]]:
    return st.lists(wrong(*allowed), min_size=1, max_size=3)


def object_with_a_wrong_value(*allowed: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.text(max_size=8), wrong(*allowed), min_size=1, max_size=3)


BAD_TIMESTAMPS = st.sampled_from(["yesterday", "2026-02-03T09:12:45", "2026-13-01T00:00:00Z", "0", "  ",
                                  "2026-02-03 09:12:45 +0000 UTC"]) | HUGE_TEXT
AZURE_BAD_TIMESTAMPS = BAD_TIMESTAMPS.filter(lambda stamp: stamp != "2026-02-03T09:12:45")

Fields = list[tuple[tuple[Any, ...], st.SearchStrategy[Any]]]


def _place(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    inner = body
    for step in path[:-1]:
        inner = inner[step]
    if value is MISSING:
        del inner[path[-1]]
    else:
        inner[path[-1]] = value
    return body


@st.composite
def broken(draw: st.DrawFn, base: Any, fields: Fields) -> tuple[str, Any]:
    """The base payload with one field removed or replaced by a value its endpoint must refuse."""
    path, invalid = draw(st.sampled_from(fields))
    value = draw(invalid)
    body = _place(copy.deepcopy(base), path, value)
    where = ".".join(str(step) for step in path) or "the body"
    return (f"{where} removed" if value is MISSING else f"{where} = {json.dumps(value)[:60]}"), body


def missing_or(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.just(MISSING) | strategy


def prometheus_fields(version: str, alerts: int) -> Fields:
    optional_text = wrong("string", "null")
    fields: Fields = [
        (("version",), missing_or(wrong("string") | text_except(version))),
        (("status",), missing_or(wrong("string") | text_except("firing", "resolved"))),
        (("alerts",), missing_or(wrong("array"))),
        (("receiver",), optional_text), (("groupKey",), optional_text), (("externalURL",), optional_text),
    ]
    for i in (0, alerts - 1):
        fields += [
            (("alerts", i), wrong("object")),
            (("alerts", i, "labels"), missing_or(wrong("object") | object_with_a_wrong_value("string"))),
            (("alerts", i, "annotations"), wrong("object") | object_with_a_wrong_value("string")),
            (("alerts", i, "startsAt"), missing_or(wrong("string", "null") | BAD_TIMESTAMPS)),
            (("alerts", i, "endsAt"), wrong("string", "null") | BAD_TIMESTAMPS),
            (("alerts", i, "status"), wrong("string", "null") | text_except("firing", "resolved")),
            (("alerts", i, "fingerprint"), optional_text), (("alerts", i, "generatorURL"), optional_text),
        ]
    return fields


def alert_fields(source: str, base: dict[str, Any]) -> Fields:
    if source == "alertmanager":
        return prometheus_fields("4", len(base["alerts"]))
    if source == "grafana":
        return prometheus_fields("1", len(base["alerts"])) + [
            (("orgId",), wrong("integer", "null")),
            (("alerts", 0, "values"), wrong("object", "null")),
            (("alerts", 0, "panelURL"), wrong("string", "null")),
            (("alerts", 0, "dashboardURL"), wrong("string", "null")),
        ]
    essentials = ("data", "essentials")
    fields: Fields = [
        (("schemaId",), missing_or(wrong("string") | text_except("azureMonitorCommonAlertSchema"))),
        (("data",), missing_or(wrong("object"))),
        (essentials, missing_or(wrong("object"))),
        ((*essentials, "alertId"), missing_or(wrong("string") | st.just(""))),
        ((*essentials, "alertRule"), missing_or(wrong("string"))),
        ((*essentials, "severity"), missing_or(wrong("string") | text_except(*(f"Sev{n}" for n in range(5))))),
        ((*essentials, "monitorCondition"), missing_or(wrong("string") | text_except("Fired", "Resolved"))),
        # Azure's health notices send no offset (UTC, facts §12.11), so a time without one is not malformed
        ((*essentials, "firedDateTime"), missing_or(wrong("string", "null") | AZURE_BAD_TIMESTAMPS)),
        ((*essentials, "resolvedDateTime"), wrong("string", "null") | AZURE_BAD_TIMESTAMPS),
        ((*essentials, "alertTargetIDs"), wrong("array", "null") | list_with_a_wrong_item("string")),
        ((*essentials, "configurationItems"), wrong("array", "null") | list_with_a_wrong_item("string")),
        ((*essentials, "essentialsVersion"), wrong("string", "null")
         | st.text(max_size=8).filter(lambda value: value.split(".")[0] != "1")),
        (("data", "alertContext"), wrong("object", "null")),
        (("data", "customProperties"), wrong("object", "null")),
    ]
    for name in ("signalType", "monitoringService", "description", "targetResourceGroup", "targetResourceType",
                 "investigationLink"):
        fields.append(((*essentials, name), wrong("string", "null")))
    return fields


_PLACEHOLDER = re.compile(r"\{\{\s*[\w.]+\s*\}\}")


def _a_priority(value: str) -> bool:
    text = value.strip()
    return not text or bool(_PLACEHOLDER.fullmatch(text)) or text.casefold() in {
        "low", "medium", "high", "urgent", "1", "2", "3", "4"}


REPORT_FIELDS: Fields = [
    (("ticket_id",), missing_or(
        st.none() | st.booleans() | st.floats() | st.lists(scalars, max_size=2) | st.dictionaries(st.text(), scalars)
        | st.integers(max_value=0) | st.integers(min_value=2**63)
        | st.sampled_from(["", " ", "abc", "0", "-5", "#", "12a", "1.5", "\u0661\u0662", "{{ticket.id}}", "9" * 20,
                           "9223372036854775808", "0x1f"])
        | st.text(alphabet=string.ascii_letters + " -_", min_size=1, max_size=12))),
    (("priority",), wrong("string", "null", "integer") | st.integers().filter(lambda n: not 1 <= n <= 4)
     | st.text(max_size=12).filter(lambda value: not _a_priority(value))),
    (("tags",), wrong("string", "array", "null") | list_with_a_wrong_item("string")),
] + [((name,), wrong("string", "null")) for name in ("subject", "description", "requester_email", "company", "url")]

CALL_FIELDS: Fields = [
    ((), wrong("object")),
    (("value",), missing_or(wrong("array") | st.just([]) | st.just([notification()] * 101))),
    (("value", 0), wrong("object")),
    (("value", 0, "resourceUrl"), missing_or(wrong("string") | st.text(alphabet=st.characters(exclude_characters="/"))
                                             | st.sampled_from(["/communications/calls/", "/users/1/calls/2",
                                                                "/v2/communications/calls/x", "calls/a b"]))),
    (("value", 0, "changeType"), missing_or(wrong("string") | text_except("created", "updated", "deleted"))),
    (("value", 0, "resourceData"), wrong("object", "null")),
    (("value", 0, "resourceData", "state"), wrong("string", "null")),
]
ROSTER_FIELDS: Fields = [
    (("value", 0, "resourceData"), missing_or(wrong("array")) | list_with_a_wrong_item("object")),
]


# -- what every JSON endpoint gets ---------------------------------------------------------------

NOT_JSON_TYPES = (st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x",
                                   "application/xml", "text/json", "application/jsonp", "application/json-seq",
                                   "text/plain; note=application/json", "application", "*/*"])
                  | st.text(alphabet=string.ascii_letters + "/;= -.", max_size=30)
                  .filter(lambda value: "json" not in value.lower()))
GZIP_BOMB = gzip.compress(b" " * (8 * 1024 * KIB) + b"{}")  # 8 MiB of JSON whitespace in 8 KiB


def deep(depth: int, opener: str) -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return (opener * depth + "1" + closer * depth).encode()


def transport(path: str, headers: dict[str, str], valid: Any, limit: int) -> st.SearchStrategy[Hostile]:
    """What any JSON endpoint must refuse, whatever its format: not JSON, not its kind of JSON, too
    big, too deep, not decodable; `valid` is a body it takes, sent with the wrong Content-Type."""
    good = json.dumps(valid).encode()
    ok = {**JSON_TYPE, **headers}

    def send(why: str, body: bytes, expect: int, **extra: Any) -> Hostile:
        return Hostile(why, "POST", path, body, {**ok, **extra.pop("headers", {})}, frozenset({expect}), **extra)

    def as_type(kind: str | None) -> Hostile:
        chosen = {**headers, **({"Content-Type": kind} if kind is not None else {})}
        return Hostile(f"Content-Type {kind!r}", "POST", path, good, chosen, frozenset({415}))

    return st.one_of(
        (st.none() | NOT_JSON_TYPES).map(as_type),
        st.binary(max_size=600).filter(lambda raw: not raw.strip().startswith(b"{")).map(
            lambda raw: send("random bytes", raw, 400)),
        st.binary(min_size=1, max_size=40).map(lambda raw: send("bytes that are not UTF-8", b'{"a": "\xff' + raw
                                                                  + b'"}', 400)),
        wrong("object").map(lambda value: send("JSON but not an object", json.dumps(value).encode(), 400)),
        st.dictionaries(st.text(max_size=8), json_values, max_size=6).map(
            lambda value: send("some other JSON object", json.dumps(value).encode(), 400)),
        st.integers(1, 64 * KIB).map(lambda extra: send("over the limit", b" " * (limit + extra) + good, 413)),
        st.integers(1, 1200 * KIB - limit).map(lambda extra: send("over the limit, chunked", b" " * (limit + extra)
                                                                  + good, 413, chunked=True)),
        st.integers(200, 30_000).flatmap(lambda depth: st.sampled_from(["[", '{"a":']).map(
            lambda opener: send(f"nested {depth} deep", deep(depth, opener), 400))),
        st.integers(4_400, 60_000).map(lambda digits: send("a huge number", b'{"n": ' + b"7" * digits + b"}", 400)),
        st.binary(max_size=200).map(lambda raw: send("Content-Encoding gzip, not gzip", raw, 400,
                                                     headers={"Content-Encoding": "gzip"})),
        st.just(send("a gzip bomb", GZIP_BOMB, 413, headers={"Content-Encoding": "gzip"})),
    )


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_categories=["Cc"]),
                      min_size=1, max_size=40)  # what http.client can send and aiohttp parses as a value


def families(*strategies: st.SearchStrategy[Hostile]) -> st.SearchStrategy[Hostile]:
    """Each family of requests equally often, however many branches it has (st.one_of would
    flatten them, and the family with the most branches would crowd out the others)."""
    return st.sampled_from(strategies).flatmap(lambda family: family)


def hostile(examples: int) -> settings:
    return settings(HOSTILE, max_examples=examples)


# -- /api/messages ---------------------------------------------------------------------------

def activity_requests(connector: str) -> st.SearchStrategy[Hostile]:
    help_message = channel_message("help", service_url=connector)
    required: Fields = [
        ((key,), missing_or(st.sampled_from(["", 0, False, None, [], {}]) | wrong("string")))
        for key in ("type", "serviceUrl")
    ] + [
        (("conversation",), missing_or(wrong("object") | st.just({}))),
        (("conversation", "id"), missing_or(wrong("string") | st.just(""))),
        (("from",), missing_or(wrong("object") | st.just({}))),
        # a timestamp without an offset is read as local time by the SDK, so it is not malformed here
        (("timestamp",), wrong("string", "null") | BAD_TIMESTAMPS.filter(lambda t: t != "2026-02-03T09:12:45")),
        (("entities",), wrong("array", "null") | list_with_a_wrong_item("object", "null")),
    ]
    # Coerced or ignored by Beacon, never a 5xx, and a help message stores nothing.
    tolerated: Fields = [((key,), json_values) for key in (
        "channelData", "recipient", "text", "locale", "localTimezone", "replyToId", "id", "channelId",
        "attachments", "localTimestamp", "name", "value")] + [
        (("from", key), json_values) for key in ("id", "name", "aadObjectId")] + [
        (("conversation", key), json_values) for key in ("tenantId", "conversationType", "isGroup")] + [
        (("channelData",), st.fixed_dictionaries({}, optional={"tenant": json_values, "team": json_values,
                                                               "channel": json_values}))]
    authorized = HEADER_TEXT.map(lambda token: post("a token while MicrosoftAppId is empty", "/api/messages",
                                                    help_message, {"Authorization": token}, expect=frozenset({401})))
    return families(
        transport("/api/messages", {}, help_message, ACTIVITY_LIMIT),
        broken(help_message, required).map(lambda case: post(case[0], "/api/messages", case[1])),
        broken(help_message, tolerated).map(lambda case: post(case[0], "/api/messages", case[1], expect=None)),
        authorized,
    )


def test_messages_refuse_malformed_activities(beacon: LiveBeacon) -> None:
    before = beacon.snapshot()

    @HOSTILE
    @given(request=activity_requests(beacon.teams.url))
    def refused(request: Hostile) -> None:
        beacon.refuses(request, before)

    refused()
    another_team = installation_update(service_url=beacon.teams.url, team_id="19:another-team@thread.tacv2")
    beacon.accepts(post("install in another team", "/api/messages", another_team), before)


# -- /api/alerts/{source} --------------------------------------------------------------------

def alert_requests(source: str) -> st.SearchStrategy[Hostile]:
    path, base = f"/api/alerts/{source}", load(ALERT_SAMPLES[source])
    wrong_token = HEADER_TEXT.filter(lambda token: token.strip() != TOKEN)

    def unauthorized(why: str, headers: dict[str, str], query: str = "") -> Hostile:
        return post(why, path + query, base, headers, expect=frozenset({401}))

    return families(
        transport(path, BEARER, base, WEBHOOK_LIMIT),
        transport(f"{path}?token={TOKEN}", {}, base, WEBHOOK_LIMIT),
        broken(base, alert_fields(source, base)).map(lambda case: post(case[0], path, case[1], BEARER)),
        st.one_of(st.just(unauthorized("no token", {})),
        wrong_token.map(lambda token: unauthorized("a wrong bearer token", {"Authorization": f"Bearer {token}"})),
        wrong_token.map(lambda token: unauthorized("a wrong ?token=", {}, "?" + urlencode({"token": token}))),
        HEADER_TEXT.map(lambda scheme: unauthorized("another scheme", {"Authorization": f"{scheme}x {TOKEN}"})),
        wrong_token.map(lambda token: unauthorized("a wrong header beats a right ?token=",
                                                   {"Authorization": f"Bearer {token}"}, f"?token={TOKEN}"))),
    )


@pytest.mark.parametrize("source", ["alertmanager", "grafana", "azure-monitor"])
def test_alerts_refuse_malformed_webhooks(beacon: LiveBeacon, source: str) -> None:
    before = beacon.snapshot()

    @hostile(400)
    @given(request=alert_requests(source))
    def refused(request: Hostile) -> None:
        beacon.refuses(request, before)

    refused()
    beacon.accepts(post(f"a {source} alert", f"/api/alerts/{source}", load(ALERT_SAMPLES[source]), BEARER), before)


# -- /api/freshdesk --------------------------------------------------------------------------

def report_requests() -> st.SearchStrategy[Hostile]:
    secret = {"X-Beacon-Secret": SECRET}
    return families(
        transport("/api/freshdesk", secret, REPORT, WEBHOOK_LIMIT),
        broken(REPORT, REPORT_FIELDS).map(lambda case: post(case[0], "/api/freshdesk", case[1], secret)),
        st.just(post("no secret", "/api/freshdesk", REPORT, expect=frozenset({401})))
        | HEADER_TEXT.filter(lambda value: value.strip() != SECRET).map(lambda value: post(
            "a wrong secret", "/api/freshdesk", REPORT, {"X-Beacon-Secret": value}, expect=frozenset({401}))),
    )


def test_freshdesk_refuses_malformed_reports(beacon: LiveBeacon) -> None:
    before = beacon.snapshot()

    @HOSTILE
    @given(request=report_requests())
    def refused(request: Hostile) -> None:
        beacon.refuses(request, before)

    refused()
    beacon.accepts(post("a new report", "/api/freshdesk", {**REPORT, "ticket_id": "303"},
                        {"X-Beacon-Secret": SECRET}), before)


# -- /api/calls ------------------------------------------------------------------------------
# A well-formed notification about a call Beacon has not stored yet is held, not refused
# (tests/e2e/test_bridge.py), so it is no hostile request.


def call_requests() -> st.SearchStrategy[Hostile]:
    valid = {"value": [notification()]}
    participants = {"value": [roster()]}

    def atomic(case: tuple[str, Any]) -> Hostile:  # a good notification first, then a bad one
        why, body = case
        return post(f"{why}, after a good one", "/api/calls", {"value": [notification(), *body["value"]]})

    return families(
        transport("/api/calls", {}, valid, NOTIFICATION_LIMIT),
        broken(valid, CALL_FIELDS).map(lambda case: post(case[0], "/api/calls", case[1]))
        | broken(participants, ROSTER_FIELDS).map(lambda case: post(case[0], "/api/calls", case[1])),
        broken(valid, CALL_FIELDS[2:]).map(atomic),
        HEADER_TEXT.map(lambda token: post("a token while MicrosoftAppId is empty", "/api/calls", valid,
                                           {"Authorization": token}, expect=frozenset({401}))),
    )


def test_calls_refuse_malformed_notifications(beacon: LiveBeacon) -> None:
    before = beacon.snapshot()

    @HOSTILE
    @given(request=call_requests())
    def refused(request: Hostile) -> None:
        beacon.refuses(request, before)

    refused()
    beacon.accepts(post("the call established", "/api/calls", {"value": [notification()]}), before)


# -- GET /reports/{number}, /healthz, /readyz, /metrics -----------------------------------------

NUMBERS = (st.text(alphabet=st.characters(exclude_characters="/{}", exclude_categories=["Cs"]), min_size=1,
                   max_size=14).filter(lambda value: value.strip(".") != "")
           | st.integers(0, 10**12).map(lambda n: f"INC-{n}") | st.sampled_from(["INC-\u00b2", "\u0661", "inc-1"]))
QUERY_TEXT = st.text(max_size=70) | st.sampled_from(["\u00e9", "%", "-1", "1e9", "99999999999999999999", "0" * 64])
EXPIRES = QUERY_TEXT | st.just("9" * 4400)  # more digits than int() reads; the URL stays under aiohttp's 8 KiB


@st.composite
def report_links(draw: st.DrawFn, links: ReportLinks, now: Any) -> Hostile:
    number = draw(NUMBERS)
    query = {name: draw(EXPIRES if name == "expires" else QUERY_TEXT)
             for name in draw(st.sets(st.sampled_from(["expires", "sig", "format"])))}
    why, expect = "a forged link", frozenset({400, 403})
    if draw(st.booleans()):  # a real signature, for an incident that does not exist or a garbled path
        incident = draw(st.integers(1000, 999_999_999))  # a few incidents exist, never a thousand
        signed = links.url(incident, now).split("?", 1)[1]
        number, why, expect = draw(st.sampled_from([f"INC-{incident}", f"{incident}", f"inc-{incident}"])), \
            "a signed link to a missing incident", frozenset({404})
        query = {**dict(part.split("=", 1) for part in signed.split("&")), **{
            key: value for key, value in query.items() if key == "format"}}
    path = f"/reports/{quote(number, safe='')}"
    raw = draw(st.sampled_from(["", "&sig=%FF%FE", "&expires=%", "&sig=%ED%A0%80"]))
    query_string = urlencode(query) + raw
    return Hostile(why, "GET", f"{path}?{query_string}" if query_string else path, expect=expect)


def test_report_links_refuse_forgeries(beacon: LiveBeacon) -> None:
    before = beacon.snapshot()
    now = beacon.server.deps.clock.now()

    @hostile(400)
    @given(request=report_links(beacon.links, now))
    def refused(request: Hostile) -> None:
        beacon.refuses(request, before)

    refused()
    answer = beacon.send(Hostile("a signed link", "GET", beacon.links.url(1, now, fmt="md").removeprefix(PUBLIC_URL)))
    assert answer.status == 200 and answer.content_type.startswith("text/markdown") and b"INC-1" in answer.body


@st.composite
def probes(draw: st.DrawFn) -> Hostile:
    path = draw(st.sampled_from(["/healthz", "/readyz", "/metrics"]))
    query = urlencode(draw(st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3)))
    headers = draw(st.dictionaries(st.sampled_from(["Content-Type", "Accept", "Authorization", "X-Beacon-Secret",
                                                    "Accept-Encoding"]), HEADER_TEXT, max_size=3))
    return Hostile("a probe with odd headers", "GET", f"{path}?{query}" if query else path,
                   draw(st.binary(max_size=100)), headers, frozenset({200}))


def test_probes_answer_whatever_comes_with_them(beacon: LiveBeacon) -> None:
    before = beacon.snapshot()

    @hostile(150)
    @given(request=probes())
    def answered(request: Hostile) -> None:
        beacon.refuses(request, before)

    answered()
