"""Monitoring alert intake, pure: parse each webhook format into `Alert`, and classify it.

The HTTP endpoints (/api/alerts/azure-monitor, /alertmanager, /grafana) decode the JSON, call the
parser in PARSERS for their path, and answer 400 with AlertFormatError's message when it raises.
"""

from collections.abc import Callable, Mapping

from services.alerts.alertmanager import parse_alertmanager
from services.alerts.azure_monitor import parse_azure_monitor
from services.alerts.grafana import parse_grafana
from services.alerts.model import Alert, AlertFormatError, AlertSource, AlertStatus
from services.alerts.routing import AlertMatch, AlertRoutingConfig, AlertRule, Classification, classify_alert

PARSERS: Mapping[str, Callable[[object], list[Alert]]] = {
    "azure-monitor": parse_azure_monitor,
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
}

__all__ = [
    "PARSERS",
    "Alert",
    "AlertFormatError",
    "AlertMatch",
    "AlertRoutingConfig",
    "AlertRule",
    "AlertSource",
    "AlertStatus",
    "Classification",
    "classify_alert",
    "parse_alertmanager",
    "parse_azure_monitor",
    "parse_grafana",
]
