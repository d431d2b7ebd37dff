"""Real senders through HTTP: Azure Service Health's resolution notice, Grafana's test button and
its data-source alerts end in the right incident, or in none."""

from __future__ import annotations

from sqlalchemy import func, select

from services.store.tables import IncidentRow
from tests.e2e.helpers import card_text, incident_root, settled
from tests.e2e.test_alerts import intake, load, post, timeline


async def incidents(stack) -> int:  # type: ignore[no-untyped-def]
    async with stack.beacon.deps.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(IncidentRow)) or 0)


async def test_a_service_health_resolution_resolves_its_notice_and_opens_nothing(database_url):
    async with intake(database_url, freshdesk=False) as (stack, _):
        status, answer = await post(stack, "azure-monitor", load("azure_service_health_active"))
        assert status == 200 and answer["alerts"][0]["outcome"] == "declared"
        root = await incident_root(stack, 1)
        assert "Azure SQL Database – West Europe – connectivity failures" in card_text(root.cards[0])
        status, answer = await post(stack, "azure-monitor", load("azure_service_health_resolved"))
        assert status == 200
        assert answer["alerts"][0]["outcome"] == "resolved; all linked alerts resolved"
        assert answer["alerts"][0]["incident"] == "INC-1" and await incidents(stack) == 1
        kinds = [e.kind for e in await timeline(stack)]
        assert kinds.count("alert_resolved") == 1
        # A late copy of the resolution, or a resolution for something never seen, opens nothing.
        status, answer = await post(stack, "azure-monitor", load("azure_service_health_mitigated"))
        assert status == 200 and answer["alerts"][0]["outcome"] == "already resolved"
        await settled(stack)
        assert await incidents(stack) == 1


async def test_a_resolution_notice_alone_never_opens_an_incident(database_url):
    async with intake(database_url, freshdesk=False) as (stack, _):
        for name in ("azure_service_health_resolved", "azure_resource_health_available"):
            status, answer = await post(stack, "azure-monitor", load(name))
            assert status == 200 and answer["alerts"][0]["outcome"].startswith("ignored"), answer
        assert await incidents(stack) == 0


async def test_grafanas_test_button_is_answered_and_opens_nothing(database_url):
    async with intake(database_url, freshdesk=False) as (stack, _):
        status, answer = await post(stack, "grafana", load("grafana_contact_point_test"))
        assert status == 200 and answer["received"] == 1
        assert answer["alerts"][0]["outcome"] == "ignored: a test notification (it opens no incident)"
        await settled(stack)
        assert await incidents(stack) == 0
        assert not any("INC-" in card_text(c) for m in stack.teams.posted() for c in m.cards)


async def test_a_grafana_no_data_alert_is_titled_with_its_rule(database_url):
    async with intake(database_url, freshdesk=False) as (stack, _):
        status, answer = await post(stack, "grafana", load("grafana_datasource_nodata_error"))
        assert status == 200 and [a["outcome"] for a in answer["alerts"]] == ["declared", "grouped"]
        root = await incident_root(stack, 1)
        assert "Payments API p99 latency (no data)" in card_text(root.cards[0])
        async with stack.beacon.deps.uow() as uow:
            assert (await uow.incidents.get(1)).title == "Payments API p99 latency (no data)"
