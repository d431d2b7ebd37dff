"""Azure Monitor's common alert schema (action-group webhook with the common schema enabled).

One alert per post. Dedup is on essentials.alertId, which stays the same from Fired to
Resolved. Only the fields Beacon uses are required; Azure adds fields over time, so the rest are
ignored here and kept in `raw` for the report appendix.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.alerts.azure_health import health_notice
from services.alerts.model import (
    Alert,
    AlertFormatError,
    UtcTimestamp,
    describe_validation_error,
    service_from_labels,
)

SCHEMA_ID = "azureMonitorCommonAlertSchema"


class _Wire(BaseModel):
    # Strict: "5" is not a list and 3 is not a string; tolerant: unknown fields are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")


class Essentials(_Wire):
    alertId: str = Field(min_length=1)
    alertRule: str
    severity: Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]
    monitorCondition: Literal["Fired", "Resolved"]
    firedDateTime: UtcTimestamp
    resolvedDateTime: UtcTimestamp = None
    signalType: str | None = None
    monitoringService: str | None = None
    description: str | None = None
    alertTargetIDs: list[str] | None = None
    configurationItems: list[str] | None = None
    targetResourceGroup: str | None = None
    targetResourceType: str | None = None
    investigationLink: str | None = None
    essentialsVersion: str | None = None

    @field_validator("essentialsVersion")
    @classmethod
    def _known_version(cls, value: str | None) -> str | None:
        # Minor versions only add fields; a new major version may move the ones we read.
        if value is not None and value.split(".")[0] != "1":
            raise ValueError(f"must be 1.x (the version Beacon reads), got {value!r}")
        return value


class AlertData(_Wire):
    essentials: Essentials
    alertContext: dict[str, Any] | None = None
    customProperties: dict[str, Any] | None = None


class CommonAlert(_Wire):
    schemaId: str
    data: AlertData

    @field_validator("schemaId")
    @classmethod
    def _common_schema(cls, value: str) -> str:
        if value != SCHEMA_ID:
            raise ValueError(
                f"must be {SCHEMA_ID!r}, got {value[:60]!r}: enable the common alert schema "
                "on the action group's webhook")
        return value


def parse_azure_monitor(body: object) -> list[Alert]:
    """A decoded common-alert-schema body → one Alert, or AlertFormatError naming the field."""
    if not isinstance(body, dict):
        raise AlertFormatError("the body must be a JSON object with schemaId and data")
    try:
        wire = CommonAlert.model_validate(body)
    except ValidationError as error:
        raise AlertFormatError(describe_validation_error(error)) from None
    return [_to_alert(wire.data, body)]


def _to_alert(data: AlertData, raw: dict[str, Any]) -> Alert:
    essentials = data.essentials
    labels = _labels(essentials, data.customProperties or {})
    resolved = essentials.monitorCondition == "Resolved"
    description = essentials.description or ""
    details = metric_condition(data.alertContext)
    key, summary, service = essentials.alertId, description or essentials.alertRule, ""
    ended = essentials.resolvedDateTime
    notice = health_notice(essentials.monitoringService, data.alertContext, alert_id=essentials.alertId,
                           targets=essentials.alertTargetIDs or [], description=description)
    if notice is not None:  # activity-log alerts say "Fired" even when the notice is a resolution
        key, resolved, service, details = notice.key, notice.resolved, notice.service, notice.text
        summary = notice.title or summary
        ended = essentials.firedDateTime  # the resolution notice's own time
    return Alert(
        source="azure-monitor",
        key=key,
        status="resolved" if resolved else "firing",
        rule=essentials.alertRule,
        severity=essentials.severity,
        summary=summary,
        description="\n".join(part for part in (description, details) if part),
        service_hint=service_from_labels(labels) or service or _target_name(essentials),
        labels=labels,
        started_at=essentials.firedDateTime,
        ended_at=ended if resolved else None,
        link=essentials.investigationLink or "",
        raw=raw,
    )


def _labels(essentials: Essentials, custom: dict[str, Any]) -> dict[str, str]:
    """Essentials and custom properties as labels, so routing rules match Azure like Prometheus."""
    labels = {name: str(value) for name, value in custom.items() if isinstance(value, str | int | float)}
    for name in ("alertRule", "severity", "signalType", "monitoringService",
                 "targetResourceGroup", "targetResourceType"):
        value = getattr(essentials, name)
        if value:
            labels[name] = value
    if "targetResourceGroup" not in labels and _resource_group(essentials):
        labels["targetResourceGroup"] = _resource_group(essentials)
    return labels


def _resource_group(essentials: Essentials) -> str:
    """Older payloads have no targetResourceGroup, but the ARM id of the target names it."""
    for target in essentials.alertTargetIDs or []:
        parts = target.split("/")
        lowered = [part.lower() for part in parts]
        if "resourcegroups" in lowered[:-1]:
            return parts[lowered.index("resourcegroups") + 1]
    return ""


def _target_name(essentials: Essentials) -> str:
    """The affected resource's name: the last segment of its ARM id, or its configuration item."""
    for target in essentials.alertTargetIDs or []:
        name = target.rstrip("/").rsplit("/", 1)[-1]
        if name:
            return name
    return next((item for item in essentials.configurationItems or [] if item), "")


def metric_condition(context: dict[str, Any] | None) -> str:
    """'Percentage CPU GreaterThan 25 (value 7.727)' for metric alerts; '' for anything else.

    alertContext differs per signal type and is not validated, so this reads it defensively.
    """
    condition = (context or {}).get("condition")
    criteria = condition.get("allOf") if isinstance(condition, dict) else None
    if not isinstance(criteria, list):
        return ""
    lines = []
    for item in criteria[:10]:
        if isinstance(item, dict) and isinstance(item.get("metricName"), str):
            parts = [item.get(key) for key in ("metricName", "operator", "threshold")]
            line = " ".join(str(part) for part in parts if isinstance(part, str | int | float))
            value = item.get("metricValue")
            if isinstance(value, int | float) and not isinstance(value, bool):
                line += f" (value {value})"
            lines.append(line)
    return "\n".join(lines)
