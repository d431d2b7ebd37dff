"""Routing rules give an alert its service, team, impact and urgency; first match wins."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.alerts import (
    Alert,
    AlertRoutingConfig,
    classify_alert,
    parse_alertmanager,
    parse_azure_monitor,
    parse_grafana,
)
from services.alerts.routing import routing_problems
from services.config import ServiceEntry
from services.incidents.model import Level

DATA = Path(__file__).resolve().parents[1] / "data" / "alerts"

CONFIG = yaml.safe_load("""
services:
  - {name: payments-api, team: payments, criticality: high}
  - {name: web-portal, team: web, criticality: medium}
  - {name: reporting, team: data, criticality: low}
alert_routing:
  grouping_window: PT10M
  severity_urgency: {Sev0: high, Sev1: high, critical: high, Sev2: medium, warning: medium,
                     Sev3: low, Sev4: low, info: low}
  rules:
    - match: {labels: {service: payments-api}}
      service: payments-api
    - match: {rule: "^Payments .*"}
      service: payments-api
    - match: {source: azure-monitor, labels: {targetResourceGroup: data-prod-rg}}
      service: reporting
  default_service: unknown
""")
SERVICES = [ServiceEntry.model_validate(entry) for entry in CONFIG["services"]]
ROUTING = AlertRoutingConfig.model_validate(CONFIG["alert_routing"])


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def alert(name: str, index: int = 0) -> Alert:
    body = load(name)
    parser = parse_azure_monitor if name.startswith("azure") else (
        parse_grafana if name.startswith("grafana") else parse_alertmanager)
    return parser(body)[index]


def routing(**config: Any) -> AlertRoutingConfig:
    return AlertRoutingConfig.model_validate(config)


def test_the_documented_example_parses_with_its_window():
    assert ROUTING.grouping_window == timedelta(minutes=10)
    assert AlertRoutingConfig().grouping_window == timedelta(minutes=10)  # the default
    assert ROUTING.auto_resolve is False
    assert routing(grouping_window="PT2S").grouping_window == timedelta(seconds=2)


def test_a_label_rule_routes_alertmanager_alerts_and_criticality_gives_impact():
    result = classify_alert(alert("alertmanager_v4_payments_firing"), ROUTING, SERVICES)
    assert (result.service, result.team) == ("payments-api", "payments")
    assert (result.impact, result.urgency) == (Level.HIGH, Level.HIGH)  # criticality high; critical
    assert (result.matched_rule, result.reason) == (0, "alert_routing.rules[0]")
    assert result.origin == "from Alertmanager: PaymentsHighErrorRate"


def test_a_rule_name_regex_routes_azure_monitor_alerts():
    result = classify_alert(alert("azure_monitor_metric_sev1_fired"), routing(
        rules=[{"match": {"rule": "^Payments .*"}, "service": "payments-api"}]), SERVICES)
    assert (result.service, result.team, result.urgency) == ("payments-api", "payments", Level.HIGH)
    assert result.origin == "from Azure Monitor: Payments DB DTU above 90%"


def test_first_matching_rule_wins():
    # The Sev0 log alert matches rule 0 (customProperties.service) and rule 1 (its name).
    sev0 = alert("azure_monitor_log_sev0_fired")
    assert classify_alert(sev0, ROUTING, SERVICES).matched_rule == 0
    swapped = routing(rules=[
        {"match": {"rule": "^Payments "}, "service": "web-portal"},
        {"match": {"labels": {"service": "payments-api"}}, "service": "payments-api"},
    ])
    result = classify_alert(sev0, swapped, SERVICES)
    assert (result.service, result.matched_rule, result.impact) == ("web-portal", 0, Level.MEDIUM)


def test_azure_labels_route_by_resource_group():
    result = classify_alert(alert("azure_monitor_activity_log_sev4_fired"), ROUTING, SERVICES)
    assert (result.service, result.team, result.impact, result.urgency) == ("reporting", "data", Level.LOW, Level.LOW)
    assert result.matched_rule == 2


def test_without_a_rule_a_service_label_naming_a_known_service_routes_it():
    result = classify_alert(alert("grafana_panel_firing"), ROUTING, SERVICES)
    assert (result.service, result.team, result.impact, result.urgency) == (
        "web-portal", "web", Level.MEDIUM, Level.MEDIUM)
    assert result.matched_rule is None and "web-portal" in result.reason


def test_nothing_matches_the_fallback_service_and_defaults():
    config = routing(default_service="platform", default_team="sre", default_impact="low", default_urgency="high")
    result = classify_alert(alert("grafana_docs_firing"), config, SERVICES)  # no severity label
    assert (result.service, result.team, result.impact, result.urgency) == ("platform", "sre", Level.LOW, Level.HIGH)
    assert (result.matched_rule, result.reason) == (None, "alert_routing.default_service")
    plain = classify_alert(alert("grafana_docs_firing"), AlertRoutingConfig(), [])
    assert (plain.service, plain.team, plain.impact, plain.urgency) == ("unknown", "", Level.MEDIUM, Level.MEDIUM)


def test_a_default_service_listed_in_services_takes_its_team_and_criticality():
    result = classify_alert(alert("grafana_docs_firing"), routing(default_service="reporting"), SERVICES)
    assert (result.team, result.impact) == ("data", Level.LOW)


@pytest.mark.parametrize(("severity", "urgency"), [
    ("Sev0", "high"), ("Sev1", "high"), ("critical", "high"), ("SEV0", "high"), ("Critical", "high"),
    ("Sev2", "medium"), ("error", "medium"), ("warning", "medium"),
    ("Sev3", "low"), ("Sev4", "low"), ("info", "low"),
    ("", "medium"), ("disaster", "medium"),
])
def test_default_severity_to_urgency(severity: str, urgency: str):
    assert AlertRoutingConfig().urgency_for(severity) == urgency


def test_a_site_severity_map_extends_and_overrides_the_defaults():
    config = routing(severity_urgency={"P1": "high", "warning": "high"}, default_urgency="low")
    assert config.urgency_for("p1") == Level.HIGH
    assert config.urgency_for("warning") == Level.HIGH
    assert config.urgency_for("Sev4") == Level.LOW and config.urgency_for("Sev0") == Level.HIGH
    assert config.urgency_for("unheard-of") == Level.LOW


def test_a_rule_can_set_team_impact_and_urgency():
    config = routing(rules=[{"match": {"source": "grafana"}, "service": "web-portal", "team": "frontend",
                             "impact": "high", "urgency": "low"}])
    result = classify_alert(alert("grafana_panel_firing"), config, SERVICES)
    assert (result.team, result.impact, result.urgency) == ("frontend", Level.HIGH, Level.LOW)


@pytest.mark.parametrize(("match", "matches"), [
    ({}, True),  # a catch-all
    ({"source": "alertmanager"}, True),
    ({"source": "grafana"}, False),
    ({"labels": {"service": "payments-api", "namespace": "pay-prod"}}, True),
    ({"labels": {"service": "payments-api", "namespace": "pay-staging"}}, False),  # every label must hold
    ({"labels": {"missing": ""}}, False),
    ({"labels_regex": {"pod": "^payments-api-"}}, True),
    ({"labels_regex": {"pod": "^web-"}}, False),
    ({"labels_regex": {"absent": ".*"}}, False),
    ({"rule": "HighError"}, True),  # searched, not anchored
    ({"rule": "^HighError"}, False),
    ({"service_hint": "PAYMENTS-API"}, True),
    ({"severity": ["Critical", "Sev0"]}, True),
    ({"severity": ["warning"]}, False),
    ({"source": "alertmanager", "severity": ["warning"]}, False),
])
def test_matchers(match: dict[str, Any], matches: bool):
    config = routing(rules=[{"match": match, "service": "reporting"}])
    result = classify_alert(alert("alertmanager_v4_payments_firing"), config, SERVICES)
    assert (result.matched_rule == 0) is matches


@pytest.mark.parametrize(("config", "named"), [
    ({"rules": [{"match": {"rule": "(unclosed"}, "service": "x"}]}, ("rules", 0, "match", "rule")),
    ({"rules": [{"match": {"labels_re": {}}, "service": "x"}]}, ("rules", 0, "match", "labels_re")),
    ({"rules": [{"match": {}}]}, ("rules", 0, "service")),
    ({"rules": [{"service": "x", "urgency": "extreme"}]}, ("rules", 0, "urgency")),
    ({"grouping_window": "ten minutes"}, ("grouping_window",)),
    ({"grouping_window": "-PT10M"}, ("grouping_window",)),
    ({"severity_urgency": {"Sev0": "urgent"}}, ("severity_urgency", "Sev0")),
    ({"default_servic": "x"}, ("default_servic",)),
])
def test_a_bad_routing_config_names_its_key(config: dict[str, Any], named: tuple[Any, ...]):
    with pytest.raises(ValidationError) as error:
        AlertRoutingConfig.model_validate(config)
    assert named in [item["loc"] for item in error.value.errors()]


def test_routing_problems_name_rules_for_unknown_services():
    config = routing(rules=[{"service": "payments-api"}, {"service": "paymnets-api"}])
    assert routing_problems(config, [s.name for s in SERVICES]) == [
        "alert_routing.rules.1.service: 'paymnets-api' is not in services"]


def test_the_config_serialises_for_the_process_fingerprint():
    dumped = json.loads(ROUTING.model_dump_json())
    assert dumped["grouping_window"] == "PT10M"
    assert dumped["rules"][1]["match"]["rule"] == "^Payments .*"
    assert AlertRoutingConfig.model_validate(dumped) == ROUTING
