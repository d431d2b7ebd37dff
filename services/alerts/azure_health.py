"""Azure Service Health and Resource Health notices, as they arrive through the common alert schema.

They are activity-log alerts, so `monitorCondition` is always "Fired": a notice that the problem
is over says so in alertContext instead (Service Health: `properties.stage` Resolved or Mitigated,
`status` Resolved, a description starting "Resolved:"; Resource Health: `status` Resolved or the
resource `Available` again). Each notice is a new activity-log event with a new alertId, so the
notices of one Azure problem are tied together by Service Health's `trackingId`, or by the
affected resource for Resource Health: that is the key Beacon deduplicates on, and a resolution
notice finds the incident its first notice opened (and never opens one itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

SERVICE_HEALTH = "servicehealth"
RESOURCE_HEALTH = "resourcehealth"
# Stages after which the Azure problem is over: a final root-cause report (RCA) and finished or
# cancelled maintenance included.
_OVER_STAGES = {"resolved", "mitigated", "complete", "completed", "canceled", "cancelled", "rca"}


@dataclass(frozen=True)
class HealthNotice:
    kind: str  # servicehealth | resourcehealth
    key: str
    resolved: bool
    title: str
    service: str
    text: str


def _kind(monitoring_service: str, context: dict[str, Any]) -> str:
    name = monitoring_service.replace(" ", "").lower()
    operation = str(context.get("operationName") or "").lower()
    if name == SERVICE_HEALTH or operation.startswith("microsoft.servicehealth/"):
        return SERVICE_HEALTH
    if name == RESOURCE_HEALTH or operation.startswith("microsoft.resourcehealth/"):
        return RESOURCE_HEALTH
    return ""


def health_notice(monitoring_service: str | None, context: dict[str, Any] | None, *, alert_id: str,
                  targets: list[str], description: str) -> HealthNotice | None:
    """The notice's identity and state, or None when the alert is not a health notice."""
    context = context if isinstance(context, dict) else {}
    kind = _kind(monitoring_service or "", context)
    if not kind:
        return None
    properties = context.get("properties") if isinstance(context.get("properties"), dict) else {}
    status = _text(context.get("status")).lower()
    title = _text(properties.get("title") or properties.get("defaultLanguageTitle"))
    if kind == SERVICE_HEALTH:
        stage = _text(properties.get("stage")).lower()
        resolved = (stage in _OVER_STAGES or status == "resolved"
                    or description.strip().lower().startswith("resolved:") or title.lower().startswith("resolved:"))
        tracking = _text(properties.get("trackingId"))
        key = f"{SERVICE_HEALTH}:{tracking}" if tracking else alert_id
        body = properties.get("communication") or properties.get("defaultLanguageContent")
        return HealthNotice(kind, key, resolved, title, _text(properties.get("service")), html_text(_text(body)))
    health = _text(properties.get("currentHealthStatus")).lower()
    operation = _text(context.get("operationName")).lower()
    resolved = status == "resolved" or health == "available" or "/resolved/" in operation
    target = next((t.lower() for t in targets if t), "")
    key = f"{RESOURCE_HEALTH}:{target}" if target else alert_id
    cause = " ".join(_text(properties.get(name)) for name in ("type", "cause") if properties.get(name))
    return HealthNotice(kind, key, resolved, title, "", cause)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class _Text(HTMLParser):
    """Service Health's communication is HTML (paragraphs, bold headings, links)."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(value: str) -> str:
    parser = _Text()
    parser.feed(value)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)[:4000]
