"""Each monitoring format parses into Alert, and every bad body becomes AlertFormatError naming the field."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.alerts import PARSERS, Alert, AlertFormatError, parse_alertmanager, parse_azure_monitor, parse_grafana
from services.alerts.alertmanager import labels_fingerprint

DATA = Path(__file__).resolve().parents[1] / "data" / "alerts"
Parser = Callable[[object], list[Alert]]


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# Azure Monitor ---------------------------------------------------------------------------------

def test_azure_monitor_public_sample_is_a_resolved_metric_alert():
    [alert] = parse_azure_monitor(load("azure_monitor_metric_sev3_resolved"))
    assert alert.source == "azure-monitor"
    assert alert.key.endswith("/alerts/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e")
    assert (alert.status, alert.rule, alert.severity) == ("resolved", "WCUS-R2-Gen2", "Sev3")
    # Azure sends 7 fractional digits; they are read, not refused.
    assert alert.started_at == utc(2019, 3, 22, 13, 58, 24, 371321)
    assert alert.ended_at == utc(2019, 3, 22, 14, 3, 16, 224631)
    assert alert.service_hint == "wcus-r2-gen2"  # the target resource's name
    assert "Percentage CPU GreaterThan 25 (value 7.727)" in alert.description
    assert alert.labels["Key1"] == "Value1" and alert.labels["signalType"] == "Metric"
    assert alert.origin == "from Azure Monitor: WCUS-R2-Gen2"
    assert alert.raw["schemaId"] == "azureMonitorCommonAlertSchema"


def test_azure_monitor_fired_and_resolved_share_the_alert_id():
    [fired] = parse_azure_monitor(load("azure_monitor_metric_sev3_fired"))
    [resolved] = parse_azure_monitor(load("azure_monitor_metric_sev3_resolved"))
    assert fired.key == resolved.key
    assert fired.status == "firing" and fired.firing
    assert fired.ended_at is None


def test_azure_monitor_log_alert_uses_custom_properties_and_the_investigation_link():
    [fired] = parse_azure_monitor(load("azure_monitor_log_sev0_fired"))
    [resolved] = parse_azure_monitor(load("azure_monitor_log_sev0_resolved"))
    assert fired.severity == "Sev0" and fired.rule == "Payments API 5xx rate"
    assert fired.service_hint == "payments-api"  # customProperties.service beats the resource name
    assert fired.link.startswith("https://portal.azure.com/")
    assert fired.summary.startswith("More than 5% of payment requests failed")
    assert fired.labels["targetResourceGroup"] == "payments-prod-rg"
    assert (resolved.key, resolved.status) == (fired.key, "resolved")
    assert resolved.ended_at == utc(2026, 2, 3, 9, 41, 52, 118006)


@pytest.mark.parametrize(("name", "severity", "status"), [
    ("azure_monitor_log_sev0_fired", "Sev0", "firing"),
    ("azure_monitor_log_sev0_resolved", "Sev0", "resolved"),
    ("azure_monitor_metric_sev1_fired", "Sev1", "firing"),
    ("azure_monitor_metric_sev2_fired", "Sev2", "firing"),
    ("azure_monitor_metric_sev3_fired", "Sev3", "firing"),
    ("azure_monitor_metric_sev3_resolved", "Sev3", "resolved"),
    ("azure_monitor_activity_log_sev4_fired", "Sev4", "firing"),
])
def test_azure_monitor_every_severity(name, severity, status):
    [alert] = parse_azure_monitor(load(name))
    assert (alert.severity, alert.status) == (severity, status)
    assert alert.started_at is not None and alert.started_at.tzinfo is UTC


def test_azure_monitor_activity_log_alert_without_description_is_summarised_by_its_rule():
    [alert] = parse_azure_monitor(load("azure_monitor_activity_log_sev4_fired"))
    assert alert.summary == "Reporting VM deallocated"
    assert alert.service_hint == "reporting-vm-01"
    assert alert.description == ""  # no metric condition to describe
    assert alert.labels["targetResourceGroup"] == "data-prod-rg"  # read from the target's ARM id


# Alertmanager ----------------------------------------------------------------------------------

def test_alertmanager_fingerprint_is_alertmanagers_own():
    # The vector from prometheus/common model/signature_test.go.
    assert int(labels_fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16) == \
        5799056148416392346
    assert labels_fingerprint({}) == "cbf29ce484222325"


def test_alertmanager_public_sample_without_fingerprint_or_alert_status():
    [alert] = parse_alertmanager(load("alertmanager_v4_one_alert_firing"))
    labels = load("alertmanager_v4_one_alert_firing")["alerts"][0]["labels"]
    assert alert.key == labels_fingerprint(labels)
    assert alert.status == "firing"  # the group's status
    assert (alert.rule, alert.severity, alert.service_hint) == ("high_memory_load", "warning", "docker_nodes")
    assert alert.summary == "Server High Memory usage"
    assert alert.description == "10.80.40.11 reported high memory usage with 23.28%."
    assert alert.started_at == utc(2018, 3, 7, 11, 33, 21, 873077)  # -05:00 and nanoseconds
    assert alert.ended_at is None  # Go's zero time
    assert alert.link == "http://docker.for.mac.host.internal:9093"  # no generatorURL: the Alertmanager


def test_alertmanager_two_alerts_in_one_post():
    body = load("alertmanager_v4_two_alerts_firing")
    alerts = parse_alertmanager(body)
    assert [a.rule for a in alerts] == ["high_memory_load", "high_memory_load2"]
    assert len({a.key for a in alerts}) == 2
    assert alerts[1].raw == body["alerts"][1]
    assert alerts[0].origin == "from Alertmanager: high_memory_load"


def test_alertmanager_current_version_firing_then_resolved():
    firing = parse_alertmanager(load("alertmanager_v4_payments_firing"))
    resolved = parse_alertmanager(load("alertmanager_v4_payments_resolved"))
    assert len(firing) == 3
    assert [a.key for a in firing] == [a.key for a in resolved]
    assert firing[0].key == load("alertmanager_v4_payments_firing")["alerts"][0]["fingerprint"]
    assert {(a.status, a.severity, a.service_hint) for a in firing} == {("firing", "critical", "payments-api")}
    assert firing[0].link.startswith("http://prometheus.example.com:9090/graph")
    assert {a.status for a in resolved} == {"resolved"}
    assert resolved[0].ended_at == utc(2026, 2, 3, 9, 47, 45, 310000)


def test_alertmanager_group_with_a_resolved_and_a_firing_alert():
    first, second = parse_alertmanager(load("alertmanager_v4_payments_mixed"))
    assert (first.status, first.ended_at) == ("resolved", utc(2026, 2, 3, 9, 31, 0, 120000))
    # Prometheus puts a predicted expiry in a firing alert's endsAt: it is not an end.
    assert (second.status, second.ended_at) == ("firing", None)


def test_alertmanager_post_with_no_alerts_is_empty_not_an_error():
    body = load("alertmanager_v4_payments_firing")
    body["alerts"] = []
    assert parse_alertmanager(body) == []


# Grafana ---------------------------------------------------------------------------------------

def test_grafana_docs_sample_firing_then_resolved():
    firing = parse_grafana(load("grafana_docs_firing"))
    resolved = parse_grafana(load("grafana_docs_resolved"))
    assert [a.key for a in firing] == ["c6eadffa33fcdf37", "bc97ff14869b13e3"]
    assert [a.key for a in resolved] == [a.key for a in firing]
    assert firing[0].rule == "High memory usage" and firing[0].status == "firing"
    assert firing[0].link == "https://play.grafana.org/alerting/1afz29v7z/edit"  # empty dashboard URLs skipped
    assert firing[0].started_at == utc(2021, 10, 12, 7, 51, 3, 157076)
    assert resolved[0].status == "resolved" and resolved[0].ended_at == utc(2021, 10, 12, 8, 21, 3, 157076)
    assert firing[0].origin == "from Grafana: High memory usage"


def test_grafana_extras_panel_link_and_values_kept_in_raw():
    [alert] = parse_grafana(load("grafana_panel_firing"))
    assert alert.link == "https://grafana.example.com/d/web-overview?orgId=1&viewPanel=4"
    assert (alert.service_hint, alert.severity) == ("web-portal", "warning")
    assert alert.raw["values"] == {"A": 2.41, "C": 1}
    assert alert.raw["imageURL"].endswith(".png")
    assert alert.summary == "p95 latency is 2.4 s (threshold 1.5 s)"


def test_a_body_posted_to_the_wrong_endpoint_says_where_it_belongs():
    with pytest.raises(AlertFormatError, match="post it to /api/alerts/grafana"):
        parse_alertmanager(load("grafana_docs_firing"))
    with pytest.raises(AlertFormatError, match="post it to /api/alerts/alertmanager"):
        parse_grafana(load("alertmanager_v4_payments_firing"))
    with pytest.raises(AlertFormatError, match="schemaId is missing"):
        parse_azure_monitor(load("alertmanager_v4_payments_firing"))


# Malformed bodies: the message names the field -------------------------------------------------

def azure(path: str, value: Any) -> Any:
    return mutate(load("azure_monitor_metric_sev3_resolved"), path, value)


def am(path: str, value: Any) -> Any:
    return mutate(load("alertmanager_v4_payments_firing"), path, value)


def grafana(path: str, value: Any) -> Any:
    return mutate(load("grafana_panel_firing"), path, value)


MISSING = object()


def mutate(body: Any, path: str, value: Any) -> Any:
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = body
    for part in parents:
        node = node[part]
    if value is MISSING:
        del node[last]
    else:
        node[last] = value
    return body


@pytest.mark.parametrize(("parser", "body", "message"), [
    (parse_azure_monitor, [], "the body must be a JSON object"),
    (parse_azure_monitor, azure("schemaId", "AzureMonitorMetricAlert"),
     "schemaId must be 'azureMonitorCommonAlertSchema', got 'AzureMonitorMetricAlert'"),
    (parse_azure_monitor, azure("data", None), "data must be an object, got null"),
    (parse_azure_monitor, azure("data.essentials.monitorCondition", "Active"),
     "data.essentials.monitorCondition must be 'Fired' or 'Resolved', got 'Active'"),
    (parse_azure_monitor, azure("data.essentials.alertId", MISSING), "data.essentials.alertId is missing"),
    (parse_azure_monitor, azure("data.essentials.alertId", ""),
     "data.essentials.alertId: String should have at least 1"),
    (parse_azure_monitor, azure("data.essentials.severity", 3),
     "data.essentials.severity must be 'Sev0', 'Sev1', 'Sev2', 'Sev3' or 'Sev4', got 3"),
    (parse_azure_monitor, azure("data.essentials.essentialsVersion", "2.0"),
     "data.essentials.essentialsVersion must be 1.x (the version Beacon reads), got '2.0'"),
    (parse_azure_monitor, azure("data.essentials.firedDateTime", "yesterday"),
     "data.essentials.firedDateTime must be an RFC 3339 timestamp, got 'yesterday'"),
    (parse_alertmanager, am("alerts.0.startsAt", "2019-03-22T13:58:24"),
     "alerts[0].startsAt must include a time zone offset"),
    (parse_azure_monitor, azure("data.essentials.resolvedDateTime", 1553263396),
     "data.essentials.resolvedDateTime must be an RFC 3339 timestamp string, got 1553263396"),
    (parse_azure_monitor, azure("data.essentials.alertTargetIDs", "vm-1"),
     "data.essentials.alertTargetIDs must be a list, got 'vm-1'"),
    (parse_azure_monitor, azure("data.essentials.alertTargetIDs", [7]),
     "data.essentials.alertTargetIDs[0] must be a string, got 7"),
    (parse_azure_monitor, azure("data.customProperties", ["a"]), "data.customProperties must be an object, got a list"),
    (parse_alertmanager, "alerts", "the body must be a JSON object"),
    (parse_alertmanager, am("version", "3"), "version must be '4' (Alertmanager webhook version 4), got '3'"),
    (parse_alertmanager, am("version", 4), "version must be a string, got 4"),
    (parse_alertmanager, am("status", MISSING), "status is missing"),
    (parse_alertmanager, am("status", "pending"), "status must be 'firing' or 'resolved', got 'pending'"),
    (parse_alertmanager, am("alerts", MISSING), "alerts is missing"),
    (parse_alertmanager, am("alerts", {"0": {}}), "alerts must be a list, got an object"),
    (parse_alertmanager, am("alerts.1", "alert"), "alerts[1] must be an object, got 'alert'"),
    (parse_alertmanager, am("alerts.2.fingerprint", 123), "alerts[2].fingerprint must be a string, got 123"),
    (parse_alertmanager, am("alerts.0.status", "pending"),
     "alerts[0].status must be 'firing' or 'resolved', got 'pending'"),
    (parse_alertmanager, am("alerts.0.labels", MISSING), "alerts[0].labels is missing"),
    (parse_alertmanager, am("alerts.0.labels.severity", 2), "alerts[0].labels.severity must be a string, got 2"),
    (parse_alertmanager, am("alerts.0.annotations", None), "alerts[0].annotations must be an object, got null"),
    (parse_alertmanager, am("alerts.1.startsAt", MISSING), "alerts[1].startsAt is missing"),
    (parse_alertmanager, am("alerts.1.startsAt", "2026-02-31T09:00:00Z"),
     "alerts[1].startsAt must be an RFC 3339 timestamp, got '2026-02-31T09:00:00Z'"),
    (parse_alertmanager, am("alerts.0.labels", {"": 1, "a.b": 2}),
     'alerts[0].labels[""] must be a string, got 1; alerts[0].labels["a.b"] must be a string, got 2'),
    (parse_alertmanager, am("alerts.1.endsAt", "9999-12-31T23:59:59-05:00"),
     "alerts[1].endsAt is out of range, got '9999-12-31T23:59:59-05:00'"),
    (parse_alertmanager, am("alerts.0.generatorURL", False), "alerts[0].generatorURL must be a string, got false"),
    (parse_grafana, grafana("version", MISSING), "version is missing"),
    (parse_grafana, grafana("version", "2"), "version must be '1' (Grafana's webhook version), got '2'"),
    (parse_grafana, grafana("orgId", "1"), "orgId must be an integer, got '1'"),
    (parse_grafana, grafana("alerts.0.dashboardURL", 5), "alerts[0].dashboardURL must be a string, got 5"),
    (parse_grafana, grafana("alerts.0.values", [1, 2]), "alerts[0].values must be an object, got a list"),
    (parse_grafana, grafana("alerts.0.labels", [["alertname", "x"]]), "alerts[0].labels must be an object, got a list"),
])
def test_a_malformed_body_is_named_precisely(parser: Parser, body: Any, message: str):
    with pytest.raises(AlertFormatError) as error:
        parser(body)
    assert message in error.value.message, error.value.message


def test_many_problems_are_summarised_and_echoed_values_are_cut():
    body = load("alertmanager_v4_payments_firing")
    for alert in body["alerts"]:
        alert["labels"] = "x" * 100_000
    with pytest.raises(AlertFormatError) as error:
        parse_alertmanager(body)
    assert error.value.message.startswith("alerts[0].labels must be an object, got 'xxx")
    assert "more problems" not in error.value.message  # three problems are all shown
    assert len(error.value.message) < 400


def test_more_than_three_problems_are_counted():
    body = load("alertmanager_v4_payments_firing")
    body["alerts"] = [1, 2, 3, 4, 5]
    with pytest.raises(AlertFormatError, match=r"\(and 2 more problems\)$"):
        parse_alertmanager(body)


# Property-style: whatever the body, the parser answers Alerts or AlertFormatError -------------

FIXTURES = {
    "azure-monitor": ["azure_monitor_metric_sev3_resolved", "azure_monitor_log_sev0_fired",
                      "azure_monitor_activity_log_sev4_fired"],
    "alertmanager": ["alertmanager_v4_one_alert_firing", "alertmanager_v4_payments_mixed"],
    "grafana": ["grafana_docs_firing", "grafana_panel_firing"],
}

JUNK: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, float("nan"), "", "x" * 5000, "\ud800", "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00-14:00", "2026-02-03T09:12:45.310+25:00", [], [None],
    [[[]]], {}, {"": {"": []}}, {"alertname": 1}, MISSING,
]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in a JSON document, parents before children."""
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    body = copy.deepcopy(body)
    node = body
    for part in path[:-1]:
        node = node[part]
    if value is MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = {"alerts": [value]} if i % 2 else [value]
    return value


def answer_of(parser: Parser, body: Any) -> list[Alert] | AlertFormatError:
    try:
        alerts = parser(body)
    except AlertFormatError as error:
        assert error.message, "an empty error message helps nobody"
        return error
    for alert in alerts:
        assert alert.key and alert.status in ("firing", "resolved")
        for moment in (alert.started_at, alert.ended_at):
            assert moment is None or moment.utcoffset() == timedelta(0)
    return alerts


def test_every_single_mutation_of_every_fixture_is_alerts_or_a_format_error():
    count = 0
    for source, names in FIXTURES.items():
        for name in names:
            body = load(name)
            for path in paths(body):
                for value in JUNK:
                    answer_of(PARSERS[source], replaced(body, path, value))
                    count += 1
    assert count > 5000


def test_random_combined_mutations_and_wrong_parsers():
    rng = random.Random(20260203)
    bodies = [(source, load(name)) for source, names in FIXTURES.items() for name in names]
    for _ in range(1500):
        source, body = rng.choice(bodies)
        for _ in range(rng.randint(2, 5)):
            candidates = list(paths(body))
            if not candidates:
                break
            body = replaced(body, rng.choice(candidates), rng.choice(JUNK))
        parser = PARSERS[source] if rng.random() < 0.8 else rng.choice(list(PARSERS.values()))
        answer_of(parser, body)


@pytest.mark.parametrize("body", [
    None, 0, "alerts", b"{}", [{}], {"alerts": [[[]]]}, {1: 2}, {"schemaId": None}, nested(400),
    {"version": "4", "status": "firing", "alerts": nested(300)},
    {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": nested(300)}},
])
@pytest.mark.parametrize("source", list(PARSERS))
def test_junk_bodies(source: str, body: Any):
    assert isinstance(answer_of(PARSERS[source], body), AlertFormatError)
