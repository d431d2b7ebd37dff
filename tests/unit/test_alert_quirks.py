"""What real senders do that the formats do not say: Azure health notices without an offset and
always "Fired", Grafana's test button and its data-source alerts (facts §12.11; the docs' samples)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.alerts import parse_azure_monitor, parse_grafana

DATA = Path(__file__).resolve().parents[1] / "data" / "alerts"


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def test_a_service_health_time_without_an_offset_is_utc():
    [alert] = parse_azure_monitor(load("azure_service_health_active"))
    assert alert.started_at == datetime(2026, 2, 4, 8, 12, 31, 473092, tzinfo=UTC)


def test_a_service_health_notice_is_named_by_its_title_and_keyed_by_its_tracking_id():
    [active] = parse_azure_monitor(load("azure_service_health_active"))
    assert active.status == "firing"
    assert active.summary == "Azure SQL Database – West Europe – connectivity failures"
    assert active.key == "servicehealth:VT1K-9XZ" and active.service_hint == "SQL Database"
    assert "Summary of impact: Starting at 07:40 UTC" in active.description and "<p>" not in active.description


@pytest.mark.parametrize("name", ["azure_service_health_resolved", "azure_service_health_mitigated"])
def test_a_resolved_or_mitigated_service_health_notice_resolves_although_azure_says_fired(name: str):
    body = load(name)
    assert body["data"]["essentials"]["monitorCondition"] == "Fired"
    [alert] = parse_azure_monitor(body)
    [active] = parse_azure_monitor(load("azure_service_health_active"))
    assert alert.status == "resolved" and alert.key == active.key  # a new alertId, the same Azure problem
    assert alert.ended_at is not None


def test_resource_health_unavailable_then_available_is_one_alert_fired_then_resolved():
    [down] = parse_azure_monitor(load("azure_resource_health_unavailable"))
    [up] = parse_azure_monitor(load("azure_resource_health_available"))
    assert (down.status, up.status) == ("firing", "resolved") and down.key == up.key
    assert down.started_at == datetime(2026, 2, 4, 10, 2, 44, 901827, tzinfo=UTC)
    assert down.summary.startswith("We're sorry, your virtual machine isn't available")


def test_other_activity_log_alerts_keep_their_alert_id():
    [alert] = parse_azure_monitor(load("azure_monitor_activity_log_sev4_fired"))
    assert alert.key.endswith("/alerts/6e2d8b17-4c90-4f5a-b3e1-7a9c0d2f5e68")


def test_grafanas_test_button_is_a_test():
    [alert] = parse_grafana(load("grafana_contact_point_test"))
    assert alert.test and alert.firing
    assert not any(a.test for a in parse_grafana(load("grafana_docs_firing")))


def test_grafana_data_source_alerts_are_named_after_their_rule():
    no_data, error = parse_grafana(load("grafana_datasource_nodata_error"))
    assert no_data.rule == "Payments API p99 latency (no data)" and no_data.summary == no_data.rule
    assert error.rule == "Payments API error budget (data source error)"
    assert no_data.origin == "from Grafana: Payments API p99 latency (no data)"
