"""Issue 5, monitoring alerts end to end: real HTTP posts of each webhook format into Beacon,
a fake Bot Framework connector showing what Teams would show, and a fake Freshdesk."""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update

from cards.intake import ALL_RESOLVED
from services.clock import FakeClock
from services.config import parse_config
from services.freshdesk.settings import FreshdeskSettings
from services.intake.settings import IntakeSettings
from services.intake.tables import AlertLinkRow, AlertReceiptRow
from services.store.tables import IncidentRow, OutboxRow
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack, unconfigured
from tests.e2e.helpers import act, card_text, eventually, heading, incident_root, settled
from tests.fakes.freshdesk import FakeFreshdesk
from tests.teams_activities import CHANNEL_ID, TEAM_ID, installation_update

DATA = Path(__file__).resolve().parents[1] / "data" / "alerts"
TOKEN = "alerts-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ROUTING = {
    "grouping_window": "PT10M",
    "rules": [{"match": {"labels": {"service": "payments-api"}}, "service": "payments-api"},
              {"match": {"rule": "^Payments "}, "service": "payments-api"}],
}


@pytest.fixture(autouse=True)
def no_outside_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts, not the developer's FRESHDESK_* or ALERTS_* variables."""
    for name in [n for n in os.environ if n.startswith(("FRESHDESK_", "ALERTS_"))]:
        monkeypatch.delenv(name)


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


@asynccontextmanager
async def intake(database_url: str, *, token: str = TOKEN, install: bool = True, clock: Any = None,
                 freshdesk: bool = True, channel: str = CHANNEL_ID, receipts_keep: str = "P30D",
                 **routing: Any) -> AsyncIterator[tuple[Stack, FakeFreshdesk]]:
    """Beacon installed in a team, alerts routed by ROUTING, Freshdesk pointed at a fake."""
    fd = FakeFreshdesk()
    await fd.start()
    config = parse_config({**E2E_CONFIG, "channels": {"incidents_channel": channel},
                           "alert_routing": {**ROUTING, **routing}})
    outside = unconfigured()
    outside.extra = {
        "intake": IntakeSettings(_env_file=None, ALERTS_WEBHOOK_TOKEN=token,  # type: ignore[call-arg]
                                 FRESHDESK_REQUESTER_EMAIL="noc@example.com", ALERT_RECEIPTS_KEEP=receipts_keep),
        "freshdesk": FreshdeskSettings(_env_file=None, FRESHDESK_URL=fd.url if freshdesk else "",  # type: ignore[call-arg]
                                       FRESHDESK_API_KEY=fd.api_key),
    }
    stack = await start_stack(database_url, config, outside=outside, clock=clock)
    try:
        if install:
            await stack.send(installation_update(service_url=stack.url))
        yield stack, fd
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
        await fd.stop()


async def post(stack: Stack, source: str, body: Any, headers: dict[str, str] | None = None,
               query: str = "") -> tuple[int, Any]:
    return await stack.beacon.post(f"/api/alerts/{source}{query}", body, headers=BEARER if headers is None else headers)


async def timeline(stack: Stack, incident_id: int = 1) -> list[Any]:
    async with stack.beacon.deps.uow() as uow:
        return await uow.timeline.of(incident_id)


async def count(stack: Stack, table: Any) -> int:
    async with stack.beacon.deps.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(table)) or 0)


async def links(stack: Stack) -> list[AlertLinkRow]:
    async with stack.beacon.deps.uow() as uow:
        return list(await uow.session.scalars(select(AlertLinkRow).order_by(AlertLinkRow.id)))


async def card_says(stack: Stack, root: Any, *words: str) -> None:
    await stack.teams.wait_for(lambda _: all(w in card_text(root.cards[0]) for w in words) or None, timeout=20)


# -- each format, firing then resolved ------------------------------------------------------------

async def test_azure_monitor_fires_then_resolves_with_a_ticket(database_url):
    async with intake(database_url) as (stack, fd):
        status, answer = await post(stack, "azure-monitor", load("azure_monitor_log_sev0_fired"))
        assert status == 200, answer
        assert answer["alerts"][0] | {"key": ""} == {"key": "", "status": "firing", "outcome": "declared",
                                                      "incident": "INC-1"}
        root = await incident_root(stack, 1)
        text = card_text(root.cards[0])
        assert heading(root.cards[0]).startswith("P1 · INC-1") and "from Azure Monitor: Payments API 5xx rate" in text
        assert "fired ×1" in text and "by Beacon" in text
        await eventually(lambda: len(fd.tickets) == 1, what="the ticket")
        ticket = fd.created[0]
        assert ticket["subject"].startswith("[INC-1] Payments API 5xx rate")
        assert (ticket["priority"], ticket["status"], ticket["tags"]) == (4, 2, ["beacon", "INC-1"])
        await card_says(stack, root, "Freshdesk #1")

        status, answer = await post(stack, "azure-monitor", load("azure_monitor_log_sev0_resolved"))
        assert status == 200 and answer["alerts"][0]["outcome"] == "resolved; all linked alerts resolved"
        await card_says(stack, root, ALL_RESOLVED, "resolved · fired ×1")
        await settled(stack)
        assert any("resolved. Resolve the incident" in (m.text or "") for m in stack.teams.thread(root.id))
        kinds = [e.kind for e in await timeline(stack)]
        assert kinds.count("alert_fired") == 1 and kinds.count("alert_resolved") == 1
        assert "resolved" not in kinds  # Beacon suggests; it does not resolve unless configured to
        assert await count(stack, AlertReceiptRow) == 2
        stack.every_card_is_valid()


async def test_alertmanager_groups_a_post_into_one_incident_and_follows_its_resolution(database_url):
    async with intake(database_url) as (stack, fd):
        status, answer = await post(stack, "alertmanager", load("alertmanager_v4_payments_firing"))
        assert status == 200
        assert [a["outcome"] for a in answer["alerts"]] == ["declared", "grouped", "grouped"]
        assert {a["incident"] for a in answer["alerts"]} == {"INC-1"}
        root = await incident_root(stack, 1)
        await card_says(stack, root, "from Alertmanager: PaymentsHighErrorRate", "payments-api")
        status, answer = await post(stack, "alertmanager", load("alertmanager_v4_payments_mixed"))
        assert [a["outcome"] for a in answer["alerts"]] == ["resolved", "repeated"]
        status, answer = await post(stack, "alertmanager", load("alertmanager_v4_payments_resolved"))
        assert [a["outcome"] for a in answer["alerts"]] == [
            "already resolved", "resolved", "resolved; all linked alerts resolved"]
        await card_says(stack, root, ALL_RESOLVED)
        assert [(link.status, link.count) for link in await links(stack)] == [
            ("resolved", 1), ("resolved", 1), ("resolved", 2)]
        await settled(stack)
        assert len(fd.tickets) == 1 and await count(stack, IncidentRow) == 1
        stack.every_card_is_valid()


async def test_grafana_fires_then_resolves_and_beacon_resolves_when_configured(database_url):
    async with intake(database_url, auto_resolve=True, channel="") as (stack, fd):
        status, answer = await post(stack, "grafana", load("grafana_docs_firing"))
        assert [a["outcome"] for a in answer["alerts"]] == ["declared", "grouped"]
        # No incidents channel configured: the thread opens where Beacon was installed.
        root = await stack.teams.wait_for(lambda t: next(
            (m for m in t.posted(TEAM_ID) if m.kind == "root" and "INC-1" in card_text(m.cards[0])), None), timeout=20)
        await card_says(stack, root, "from Grafana: High memory usage", "Alert High CPU usage")
        status, answer = await post(stack, "grafana", load("grafana_docs_resolved"))
        assert [a["outcome"] for a in answer["alerts"]] == ["resolved", "resolved; incident resolved"]
        await card_says(stack, root, "INC-1 · **Resolved**", "all 2 linked alerts resolved")
        await eventually(lambda: any(u.get("status") == 4 for u in fd.updates(1)), what="ticket resolved")
        resolved = next(e for e in await timeline(stack) if e.kind == "resolved")
        assert resolved.actor.name == "Beacon"
        stack.every_card_is_valid()


# -- deduplication, grouping, reopening ---------------------------------------------------------------

async def test_fifty_repeats_at_once_make_one_incident_one_ticket_and_a_count_of_fifty(database_url):
    async with intake(database_url) as (stack, fd):
        body = load("alertmanager_v4_one_alert_firing")
        answers = await asyncio.gather(*(post(stack, "alertmanager", body) for _ in range(50)))
        assert {status for status, _ in answers} == {200}
        outcomes = sorted(answer["alerts"][0]["outcome"] for _, answer in answers)
        assert outcomes == ["declared"] + ["repeated"] * 49
        [link] = await links(stack)
        assert link.count == 50 and await count(stack, IncidentRow) == 1
        root = await incident_root(stack, 1)
        await card_says(stack, root, "fired ×50")
        await settled(stack)
        assert len(fd.tickets) == 1
        roots = [m for m in stack.teams.posted(CHANNEL_ID) if m.kind == "root"]
        assert len(roots) == 1 and not stack.teams.thread(root.id)  # no post per repeat
        # The timeline has the second firing and the tenth, not 49 entries; the card has the count.
        repeats = [e.summary for e in await timeline(stack) if e.kind == "alert_repeated"]
        assert [r.rsplit(" ", 1)[-1] for r in repeats] == ["×2", "×10"], repeats


async def test_receipts_past_alert_receipts_keep_are_deleted_when_beacon_starts_and_the_incident_stays(database_url):
    async with intake(database_url, receipts_keep="P7D") as (stack, _):
        body = load("alertmanager_v4_one_alert_firing")
        for sequence in range(3):
            status, _answer = await post(stack, "alertmanager", dict(body, groupKey=f"{body['groupKey']}#{sequence}"))
            assert status == 200
        async with stack.beacon.deps.uow() as uow:  # the first two arrived eight days ago
            first_two = (await uow.session.execute(select(AlertReceiptRow.id, AlertReceiptRow.received_at)
                                                   .order_by(AlertReceiptRow.id).limit(2))).all()
            for receipt_id, received_at in first_two:
                await uow.session.execute(update(AlertReceiptRow).where(AlertReceiptRow.id == receipt_id)
                                          .values(received_at=received_at - timedelta(days=8)))
            await uow.commit()
        assert await count(stack, AlertReceiptRow) == 3
        await stack.beacon.stop()  # a redeploy: the new process prunes as it starts
        await stack.beacon.start()

        for _ in range(200):  # the pruner's first pass runs beside the start-up
            async with stack.beacon.deps.uow() as uow:
                left = list(await uow.session.scalars(select(AlertReceiptRow.body).order_by(AlertReceiptRow.id)))
            if len(left) < 3:
                break
            await asyncio.sleep(0.05)
        assert [b["groupKey"] for b in left] == [f"{body['groupKey']}#2"]
        [link] = await links(stack)
        assert link.count == 3 and await count(stack, IncidentRow) == 1
        assert [e.kind for e in await timeline(stack)].count("alert_fired") == 1


async def test_two_fingerprints_on_one_service_group_within_the_window_only(database_url):
    clock = FakeClock()
    async with intake(database_url, clock=clock) as (stack, _):
        body = load("alertmanager_v4_payments_firing")
        first, second, third = (dict(body, alerts=[alert]) for alert in body["alerts"])
        assert (await post(stack, "alertmanager", first))[1]["alerts"][0]["outcome"] == "declared"
        clock.advance(timedelta(minutes=9))
        _, answer = await post(stack, "alertmanager", second)
        assert answer["alerts"][0] | {"key": ""} == {"key": "", "status": "firing", "outcome": "grouped",
                                                      "incident": "INC-1"}
        _, answer = await post(stack, "grafana", load("grafana_panel_firing"))  # another service
        assert answer["alerts"][0]["incident"] == "INC-2"
        clock.advance(timedelta(minutes=11))
        _, answer = await post(stack, "alertmanager", third)
        assert (answer["alerts"][0]["outcome"], answer["alerts"][0]["incident"]) == ("declared", "INC-3")


async def test_two_new_alerts_on_one_service_at_the_same_moment_open_one_incident(database_url):
    async with intake(database_url, freshdesk=False) as (stack, _):
        body = load("alertmanager_v4_payments_firing")
        answers = await asyncio.gather(*(post(stack, "alertmanager", dict(body, alerts=[alert]))
                                         for alert in body["alerts"]))
        outcomes = sorted(answer["alerts"][0]["outcome"] for _, answer in answers)
        assert outcomes == ["declared", "grouped", "grouped"]
        assert {answer["alerts"][0]["incident"] for _, answer in answers} == {"INC-1"}
        assert await count(stack, IncidentRow) == 1


async def test_an_alert_during_monitoring_reopens_the_incident_and_tells_the_thread(database_url):
    async with intake(database_url) as (stack, fd):
        body = load("alertmanager_v4_payments_firing")
        first, second = dict(body, alerts=body["alerts"][:1]), dict(body, alerts=body["alerts"][1:2])
        await post(stack, "alertmanager", first)
        root = await incident_root(stack, 1)
        await settled(stack)
        for status in ("investigating", "monitoring"):
            await act(stack, root, "incident.status", status=status)
            await settled(stack)
        _, answer = await post(stack, "alertmanager", first)  # the same alert fires again
        assert answer["alerts"][0]["outcome"] == "reopened"
        await card_says(stack, root, "INC-1 · **Investigating**", "fired ×2")
        await settled(stack)
        notes = [m.text or "" for m in stack.teams.thread(root.id)]
        assert any("fired during monitoring: back to investigating" in n for n in notes), notes
        await act(stack, root, "incident.status", status="monitoring")
        _, answer = await post(stack, "alertmanager", second)  # another alert on the same service
        assert (answer["alerts"][0]["outcome"], answer["alerts"][0]["incident"]) == ("reopened", "INC-1")
        await settled(stack)
        # Freshdesk follows: monitoring is "pending", investigating "open" again.
        await eventually(lambda: [u.get("status") for u in fd.updates(1)] == [3, 2, 3, 2], what="ticket status")
        stack.every_card_is_valid()


async def test_one_post_with_three_alerts_of_an_incident_in_monitoring_reopens_it_once(database_url):
    """Alertmanager sends a group's alerts in one post: the first reopens the incident, and the
    others, applied in the same transaction, find it investigating already."""
    async with intake(database_url) as (stack, _):
        body = load("alertmanager_v4_payments_firing")
        _, answer = await post(stack, "alertmanager", body)
        assert [a["outcome"] for a in answer["alerts"]] == ["declared", "grouped", "grouped"]
        root = await incident_root(stack, 1)
        await settled(stack)
        for status in ("investigating", "monitoring"):
            await act(stack, root, "incident.status", status=status)
            await settled(stack)
        status, answer = await post(stack, "alertmanager", body)  # all three fire again, in one post
        assert status == 200, answer
        assert [(a["outcome"], a["incident"]) for a in answer["alerts"]] == [
            ("reopened", "INC-1"), ("repeated", "INC-1"), ("repeated", "INC-1")]
        await card_says(stack, root, "INC-1 · **Investigating**", "fired ×2")
        await settled(stack)
        notes = [m.text or "" for m in stack.teams.thread(root.id)]
        assert sum("fired during monitoring: back to investigating" in n for n in notes) == 1, notes


# -- refused requests ----------------------------------------------------------------------------

async def test_a_missing_or_wrong_token_is_refused_with_401(database_url):
    async with intake(database_url, freshdesk=False) as (stack, _):
        body = load("azure_monitor_log_sev0_fired")
        for headers, query in (({}, ""), ({"Authorization": "Bearer wrong"}, ""), ({}, "?token=wrong"),
                               ({"Authorization": f"Basic {TOKEN}"}, ""), ({"Authorization": "Bearer"}, "")):
            status, answer = await post(stack, "azure-monitor", body, headers=headers, query=query)
            assert status == 401 and "ALERTS_WEBHOOK_TOKEN" in answer["error"], (headers, query)
        assert await count(stack, AlertReceiptRow) == 0 and await count(stack, IncidentRow) == 0
        status, _ = await post(stack, "azure-monitor", body, headers={}, query=f"?token={TOKEN}")
        assert status == 200  # Azure Monitor's way: the token in the URL


async def test_during_a_rotation_the_old_and_the_new_token_both_work(database_url):
    """ALERTS_WEBHOOK_TOKEN lists the old and the new token while monitoring moves to the new one."""
    async with intake(database_url, token=" old-alerts-token, new-alerts-token,", freshdesk=False) as (stack, _):
        body = load("azure_monitor_log_sev0_fired")
        for headers, query in (({"Authorization": "Bearer third-alerts-token"}, ""), ({}, "?token=third"),
                               ({"Authorization": "Bearer old-alerts-token, new-alerts-token"}, ""),
                               ({"Authorization": "Bearer "}, ""), ({}, "?token=")):
            status, answer = await post(stack, "azure-monitor", body, headers=headers, query=query)
            assert status == 401 and "ALERTS_WEBHOOK_TOKEN" in answer["error"], (headers, query)
        assert await count(stack, AlertReceiptRow) == 0 and await count(stack, IncidentRow) == 0
        status, old = await post(stack, "azure-monitor", body, headers={"Authorization": "Bearer old-alerts-token"})
        assert status == 200 and old["alerts"][0]["outcome"] == "declared", old
        status, new = await post(stack, "azure-monitor", body, headers={}, query="?token=new-alerts-token")
        assert status == 200 and new["alerts"][0]["incident"] == old["alerts"][0]["incident"] == "INC-1", new
        assert await count(stack, IncidentRow) == 1


async def test_without_a_configured_token_alerts_are_refused_with_503(database_url):
    async with intake(database_url, token="", freshdesk=False) as (stack, _):
        status, answer = await post(stack, "grafana", load("grafana_docs_firing"), headers={"Authorization": "Bearer "})
        assert status == 503 and "ALERTS_WEBHOOK_TOKEN is not set" in answer["error"]


async def test_oversized_wrong_type_malformed_and_misshapen_bodies_store_nothing(database_url):
    async with intake(database_url, freshdesk=False) as (stack, _):
        stored = {table: await count(stack, table) for table in (AlertReceiptRow, IncidentRow, OutboxRow)}
        huge = json.dumps({"version": "4", "padding": "x" * (1024 * 1024)}).encode()
        assert (await stack.beacon.post("/api/alerts/alertmanager", raw=huge, headers=BEARER))[0] == 413
        async with aiohttp.ClientSession() as session:  # chunked: no Content-Length to check up front
            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(20):
                    yield b" " * 65536

            async with session.post(stack.beacon.url + "/api/alerts/grafana", data=chunks(),
                                    headers={**BEARER, "Content-Type": "application/json"}) as response:
                assert response.status == 413 and "1 MiB" in (await response.json())["error"]
        status, answer = await stack.beacon.post("/api/alerts/grafana", raw=b"{}",
                                                 headers={**BEARER, "Content-Type": "text/plain"})
        assert status == 415 and "application/json" in answer["error"]
        azure = load("azure_monitor_log_sev0_fired")
        no_rule = copy.deepcopy(azure)
        del no_rule["data"]["essentials"]["alertRule"]
        bad: list[tuple[str, Any, str]] = [
            ("alertmanager", b'{"version": "4", "alerts": [', "not valid JSON"),
            ("azure-monitor", [azure], "must be a JSON object"),
            ("azure-monitor", no_rule, "data.essentials.alertRule is missing"),
            ("alertmanager", load("grafana_docs_firing"), "post it to /api/alerts/grafana"),
            ("alertmanager", azure, "version is missing"),
            ("grafana", {**load("grafana_docs_firing"), "alerts": "none"}, "alerts must be a list"),
        ]
        for source, body, problem in bad:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            status, answer = await stack.beacon.post(f"/api/alerts/{source}", raw=raw, headers=BEARER)
            assert status == 400 and problem in answer["error"], (source, answer)
        for table in (AlertReceiptRow, IncidentRow, OutboxRow):  # what the install queued aside, nothing
            assert await count(stack, table) == stored[table], table
        assert stored[AlertReceiptRow] == stored[IncidentRow] == 0


async def test_an_alert_before_beacon_is_installed_is_stored_and_fails_visibly_in_teams(database_url):
    async with intake(database_url, install=False, freshdesk=False) as (stack, _):
        status, answer = await post(stack, "azure-monitor", load("azure_monitor_metric_sev1_fired"))
        assert status == 200 and answer["alerts"][0]["incident"] == "INC-1"

        async def summaries() -> list[str]:
            return [e.summary for e in await timeline(stack)]

        assert any("not installed in any team yet" in s for s in await summaries())
        await settled(stack)
        deadline = asyncio.get_running_loop().time() + 10
        while not any(s.startswith("failed to deliver INC-1 card") for s in await summaries()):
            assert asyncio.get_running_loop().time() < deadline, await summaries()
            await asyncio.sleep(0.1)
        assert "not sent: Freshdesk not configured" in await summaries()
