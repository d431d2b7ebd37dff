"""Prometheus Alertmanager's webhook (version 4): one post per group, several alerts per post.

Grafana's webhook is this format with extras, so grafana.py reuses the models and the mapping
here. Dedup is per alert on its fingerprint. Alertmanager before 0.19 (and hand-written test
posts) sent no fingerprint and no per-alert status; then the key is the fingerprint Alertmanager
itself would compute from the labels, and the status is the group's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from services.alerts.model import (
    Alert,
    AlertFormatError,
    AlertSource,
    Timestamp,
    describe_validation_error,
    service_from_labels,
)

_SEPARATOR = 0xFF
_FNV_OFFSET, _FNV_PRIME, _MASK = 14695981039346656037, 1099511628211, (1 << 64) - 1


class _Wire(BaseModel):
    # Strict: labels are strings and alerts a list; tolerant: new fields are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")


class PrometheusAlert(_Wire):
    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: Timestamp
    endsAt: Timestamp = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class PrometheusGroup(_Wire):
    status: Literal["firing", "resolved"]
    alerts: list[PrometheusAlert]
    receiver: str | None = None
    groupKey: str | None = None
    externalURL: str | None = None


class AlertmanagerWebhook(PrometheusGroup):
    version: str

    @field_validator("version")
    @classmethod
    def _version_4(cls, value: str) -> str:
        if value == "1":
            raise ValueError("must be '4', got '1': this looks like Grafana's webhook; post it to /api/alerts/grafana")
        if value != "4":
            raise ValueError(f"must be '4' (Alertmanager webhook version 4), got {value[:20]!r}")
        return value


G = TypeVar("G", bound=PrometheusGroup)


def parse_alertmanager(body: object) -> list[Alert]:
    """A decoded Alertmanager webhook body → its alerts, or AlertFormatError naming the field."""
    wire = validate_group(AlertmanagerWebhook, body)
    return to_alerts("alertmanager", wire, body, lambda alert: alert.generatorURL or "")


def validate_group(model: type[G], body: object) -> G:
    if not isinstance(body, dict):
        raise AlertFormatError("the body must be a JSON object with version, status and alerts")
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise AlertFormatError(describe_validation_error(error)) from None


def to_alerts(source: AlertSource, group: PrometheusGroup, body: Any,
              link_of: Callable[[PrometheusAlert], str]) -> list[Alert]:
    """Map each alert of a validated group; `body` is the same JSON, for each alert's raw dict."""
    raws: list[dict[str, Any]] = body["alerts"]
    return [_to_alert(source, group, alert, raw, link_of(alert) or group.externalURL or "")
            for alert, raw in zip(group.alerts, raws, strict=True)]


def _to_alert(source: AlertSource, group: PrometheusGroup, alert: PrometheusAlert,
              raw: dict[str, Any], link: str) -> Alert:
    status = alert.status or group.status
    notes = alert.annotations
    rule = alert.labels.get("alertname") or "unnamed alert"
    return Alert(
        source=source,
        key=alert.fingerprint or labels_fingerprint(alert.labels),
        status=status,
        rule=rule,
        severity=alert.labels.get("severity", ""),
        summary=notes.get("summary") or notes.get("title") or rule,
        description=notes.get("description") or notes.get("message") or "",
        service_hint=service_from_labels(alert.labels),
        labels=dict(alert.labels),
        started_at=alert.startsAt,
        # Prometheus sets endsAt on firing alerts too, as the time it expires if not re-sent.
        ended_at=alert.endsAt if status == "resolved" else None,
        link=link,
        raw=raw,
    )


def labels_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's own fingerprint (prometheus/common LabelSet.Fingerprint: FNV-1a 64 over the
    sorted name/value pairs, each followed by 0xFF), so an old sender and a new one dedup alike."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode("utf-8", "surrogatepass"), _SEPARATOR):
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"
