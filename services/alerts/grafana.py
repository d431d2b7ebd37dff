"""Grafana alerting's webhook contact point: Alertmanager's format (version "1") with extras.

The extras Beacon uses are the links: a responder wants the panel or dashboard first, then the
rule (generatorURL). values, silenceURL, imageURL and orgId stay in `raw` for the report.
title/state/message at the top are deprecated by Grafana and not read.

Two of Grafana's own alerts need reading: the contact point's "Test" button sends alertname
TestAlert from instance Grafana (a test, never an incident), and a rule whose data source
returns nothing or fails fires as alertname DatasourceNoData or DatasourceError with the rule's
title in the `rulename` label (the incident is named after that rule).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import field_validator

from services.alerts.alertmanager import PrometheusAlert, PrometheusGroup, to_alerts, validate_group
from services.alerts.model import Alert


class GrafanaAlert(PrometheusAlert):
    silenceURL: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    imageURL: str | None = None
    values: dict[str, Any] | None = None


class GrafanaWebhook(PrometheusGroup):
    version: str
    alerts: list[GrafanaAlert]  # type: ignore[assignment]  # narrower: Grafana's alerts
    orgId: int | None = None

    @field_validator("version")
    @classmethod
    def _version_1(cls, value: str) -> str:
        if value == "4":
            raise ValueError("must be '1', got '4': this looks like Alertmanager's webhook; "
                             "post it to /api/alerts/alertmanager")
        if value != "1":
            raise ValueError(f"must be '1' (Grafana's webhook version), got {value[:20]!r}")
        return value


DATASOURCE_ALERTS = {"DatasourceNoData": "no data", "DatasourceError": "data source error"}


def parse_grafana(body: object) -> list[Alert]:
    """A decoded Grafana webhook body → its alerts, or AlertFormatError naming the field."""
    wire = validate_group(GrafanaWebhook, body)
    return [_grafanas_own(alert) for alert in to_alerts("grafana", wire, body, _link)]


def _grafanas_own(alert: Alert) -> Alert:
    name = alert.labels.get("alertname", "")
    if name == "TestAlert" and alert.labels.get("instance") == "Grafana":
        return replace(alert, test=True)
    rule = alert.labels.get("rulename", "").strip()
    if name in DATASOURCE_ALERTS and rule:
        titled = f"{rule} ({DATASOURCE_ALERTS[name]})"
        return replace(alert, rule=titled, summary=titled if alert.summary == name else alert.summary)
    return alert


def _link(alert: PrometheusAlert) -> str:
    if isinstance(alert, GrafanaAlert):
        return alert.panelURL or alert.dashboardURL or alert.generatorURL or ""
    return alert.generatorURL or ""
