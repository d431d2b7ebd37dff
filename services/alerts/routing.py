"""Which service and team an alert belongs to, and its impact and urgency: rules from BEACON_CONFIG.

Pure. The config part is `alert_routing:`; the service list (with each service's team and
criticality) is BEACON_CONFIG's `services:`, passed in, so this module does not import the
config module (which embeds AlertRoutingConfig).

    alert_routing:
      grouping_window: PT10M          # alerts for one service this close join one incident
      auto_resolve: false             # resolve when every linked alert has resolved
      severity_urgency: {Sev0: high, critical: high, warning: medium}   # adds to the defaults
      default_urgency: medium         # a severity not in the map
      default_impact: medium          # a service not in `services:`
      default_service: unknown        # no rule matched and no label names a known service
      default_team: ""
      rules:                          # first match wins; every key given must hold
        - match: {source: alertmanager, labels: {service: payments-api}}
          service: payments-api
        - match: {rule: "^Payments ", labels_regex: {namespace: "^pay-"}, severity: [Sev0, Sev1]}
          service: payments-api
          team: payments              # else the service's team
          urgency: high               # else from severity_urgency
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from services.alerts.model import Alert, AlertSource
from services.durations import Window
from services.incidents.model import Level

DEFAULT_SEVERITY_URGENCY: dict[str, Level] = {
    "sev0": Level.HIGH, "sev1": Level.HIGH, "critical": Level.HIGH, "high": Level.HIGH,
    "sev2": Level.MEDIUM, "error": Level.MEDIUM, "warning": Level.MEDIUM, "medium": Level.MEDIUM,
    "sev3": Level.LOW, "sev4": Level.LOW, "info": Level.LOW, "low": Level.LOW,
}


def _regex(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a regular expression string")
    try:
        return re.compile(value)
    except re.error as error:
        raise ValueError(f"{value!r} is not a valid regular expression: {error}") from None



Regex = Annotated[re.Pattern[str], BeforeValidator(_regex)]


class _Config(BaseModel):
    # A misspelt key in routing silently routes everything to the default; refuse it instead.
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertMatch(_Config):
    """Every key given must hold; an empty match matches every alert (a catch-all)."""

    source: AlertSource | None = None
    rule: Regex | None = None  # searched in the alert rule / alertname; anchor with ^ and $
    labels: dict[str, str] = {}  # equal
    labels_regex: dict[str, Regex] = {}  # searched in the label's value
    service_hint: str | None = None  # equal, ignoring case
    severity: list[str] = []  # any of, ignoring case

    def matches(self, alert: Alert) -> bool:
        severities = {s.casefold() for s in self.severity}
        return (
            (self.source is None or alert.source == self.source)
            and (self.rule is None or self.rule.search(alert.rule) is not None)
            and all(alert.labels.get(name) == value for name, value in self.labels.items())
            and all(name in alert.labels and pattern.search(alert.labels[name])
                    for name, pattern in self.labels_regex.items())
            and (self.service_hint is None or alert.service_hint.casefold() == self.service_hint.casefold())
            and (not severities or alert.severity.casefold() in severities)
        )


class AlertRule(_Config):
    match: AlertMatch = AlertMatch()
    service: str
    team: str = ""  # empty: the service's team
    impact: Level | None = None  # None: the service's criticality
    urgency: Level | None = None  # None: from the alert's severity


class AlertRoutingConfig(_Config):
    grouping_window: Window = timedelta(minutes=10)
    auto_resolve: bool = False
    severity_urgency: dict[str, Level] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_URGENCY))
    default_urgency: Level = Level.MEDIUM
    default_impact: Level = Level.MEDIUM
    rules: list[AlertRule] = []
    default_service: str = "unknown"
    default_team: str = ""

    @field_validator("severity_urgency")
    @classmethod
    def _with_defaults(cls, value: dict[str, Level]) -> dict[str, Level]:
        # Severities compare ignoring case ("Sev0", "SEV0"), and a site's map extends ours.
        return {**DEFAULT_SEVERITY_URGENCY, **{name.strip().casefold(): level for name, level in value.items()}}

    def urgency_for(self, severity: str) -> Level:
        return self.severity_urgency.get(severity.strip().casefold(), self.default_urgency)


class ServiceLike(Protocol):
    """A `services:` entry of BEACON_CONFIG (services.config.ServiceEntry)."""

    @property
    def name(self) -> str: ...
    @property
    def team(self) -> str: ...
    @property
    def criticality(self) -> str: ...


@dataclass(frozen=True)
class Classification:
    service: str
    team: str
    impact: Level
    urgency: Level
    matched_rule: int | None  # index in alert_routing.rules; None when no rule matched
    reason: str  # why this service, for the timeline: "alert_routing.rules[1]"
    origin: str  # "from Azure Monitor: <rule>"


def classify_alert(alert: Alert, rules: AlertRoutingConfig, services: Sequence[ServiceLike]) -> Classification:
    """First matching rule wins; else a label naming a configured service; else the default."""
    index, rule = next(((i, r) for i, r in enumerate(rules.rules) if r.match.matches(alert)), (None, None))
    by_name = {service.name.casefold(): service for service in services}
    if rule is not None:
        name, reason = rule.service, f"alert_routing.rules[{index}]"
    elif alert.service_hint and alert.service_hint.casefold() in by_name:
        name, reason = by_name[alert.service_hint.casefold()].name, f"service {alert.service_hint!r} from the alert"
    else:
        name, reason = rules.default_service, "alert_routing.default_service"
    service = by_name.get(name.casefold())
    criticality = _level(service.criticality) if service else None
    return Classification(
        service=name,
        team=(rule.team if rule else "") or (service.team if service else "") or rules.default_team,
        impact=(rule.impact if rule else None) or criticality or rules.default_impact,
        urgency=(rule.urgency if rule else None) or rules.urgency_for(alert.severity),
        matched_rule=index,
        reason=reason,
        origin=alert.origin,
    )


def _level(value: str) -> Level | None:
    try:
        return Level(value)
    except ValueError:
        return None


def routing_problems(routing: AlertRoutingConfig, service_names: Sequence[str]) -> list[str]:
    """Rules that name a service missing from `services:` (likely a typo); for start-up checks."""
    known = {name.casefold() for name in service_names}
    return [f"alert_routing.rules.{i}.service: {rule.service!r} is not in services"
            for i, rule in enumerate(routing.rules) if rule.service.casefold() not in known]
