"""The normalised monitoring alert every intake format is parsed into, and its format error.

Pure: no I/O and no clock. The parsers (azure_monitor.py, alertmanager.py, grafana.py) validate
the wire shape with pydantic and turn every problem into one AlertFormatError whose message names
the field, because the HTTP layer answers 400 with exactly that message and an operator has to
fix their webhook from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ValidationError

AlertSource = Literal["azure-monitor", "alertmanager", "grafana"]
AlertStatus = Literal["firing", "resolved"]

# How a source is named to people: the timeline reads "from Azure Monitor: <rule>".
SOURCE_NAMES: Mapping[str, str] = {
    "azure-monitor": "Azure Monitor",
    "alertmanager": "Alertmanager",
    "grafana": "Grafana",
}

# Labels that name the affected service, best first. `job` is last: it is Prometheus' scrape
# job, which often is the service but sometimes only the exporter.
SERVICE_LABELS = ("service", "app", "application", "job")

_MAX_ERRORS = 3  # more than a few problems means "wrong format", and the first ones say so
_MAX_SHOWN = 60  # an echoed value is cut, so hostile input cannot blow up the 400 body
_PLAIN_KEY = re.compile(r"[A-Za-z_][\w-]{0,59}")


class AlertFormatError(ValueError):
    """A webhook body is not the format its endpoint takes; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Alert:
    """One alert from one monitoring tool, whatever its wire format.

    `key` is the identity Beacon deduplicates on within a source: Azure Monitor's alertId (the
    same for Fired and Resolved), or Alertmanager/Grafana's per-alert fingerprint. `ended_at` is
    set only for resolved alerts: on a firing alert Prometheus' endsAt is a predicted expiry,
    not an end. `raw` is the alert's own JSON for the report appendix (for Azure Monitor, which
    posts one alert at a time, the whole body); it shares structure with the parser's input.
    """

    source: AlertSource
    key: str
    status: AlertStatus
    rule: str
    severity: str
    summary: str
    description: str
    service_hint: str
    labels: dict[str, str] = field(hash=False)
    started_at: datetime | None
    ended_at: datetime | None
    link: str
    raw: dict[str, Any] = field(hash=False, repr=False)
    # A sender's "send a test notification" button: answered, recorded, never an incident.
    test: bool = False

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    @property
    def origin(self) -> str:
        """How the timeline and the card say where an incident came from."""
        return f"from {SOURCE_NAMES[self.source]}: {self.rule}"


def service_from_labels(labels: Mapping[str, str]) -> str:
    return next((labels[name] for name in SERVICE_LABELS if labels.get(name)), "")


def shown(value: object) -> str:
    """A short, safe rendering of a bad input value for an error message."""
    if isinstance(value, str):
        return repr(value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= _MAX_SHOWN else "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def json_path(loc: tuple[int | str, ...]) -> str:
    """('alerts', 3, 'fingerprint') → 'alerts[3].fingerprint', as people write JSON paths."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            path += f".{part}" if path else part
        else:  # an empty, dotted or huge key (a label name) is quoted, and cut
            path += f"[{json.dumps(part[:_MAX_SHOWN])}]"
    return path or "the body"


_KINDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _describe(item: Mapping[str, Any]) -> str:
    path, kind, value = json_path(tuple(item["loc"])), item["type"], item.get("input")
    if kind == "missing":
        return f"{path} is missing"
    if kind == "literal_error":
        return f"{path} must be {item.get('ctx', {}).get('expected', 'one of the known values')}, got {shown(value)}"
    if kind in _KINDS:
        return f"{path} must be {_KINDS[kind]}, got {shown(value)}"
    message = str(item["msg"]).removeprefix("Value error, ")
    # Our validators say "must be …"; pydantic's own messages read better after a colon.
    return f"{path} {message}" if message.startswith(("must ", "is ")) else f"{path}: {message}"


def describe_validation_error(error: ValidationError, limit: int = _MAX_ERRORS) -> str:
    """pydantic's errors as one sentence per field, with JSON paths, for a 400 body."""
    items = error.errors(include_url=False)
    text = "; ".join(_describe(item) for item in items[:limit])
    if len(items) > limit:
        text += f" (and {len(items) - limit} more problems)"
    return text


def _timestamp(value: object, *, naive_is_utc: bool = False) -> datetime | None:
    """RFC 3339 with an offset → aware UTC. Go's zero time (year 1) means "not set"."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 timestamp string, got {shown(value)}")
    try:
        # Python 3.11 reads any number of fractional digits: Go sends 9, Azure 7.
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"must be an RFC 3339 timestamp, got {shown(value)}") from None
    if parsed.tzinfo is None and naive_is_utc:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is None:
        raise ValueError(f"must include a time zone offset such as Z, got {shown(value)}")
    if parsed.year <= 1:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"is out of range, got {shown(value)}") from None


Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
# Azure Monitor's Service Health and Resource Health notices send firedDateTime with no offset
# (2020-03-23T17:51:56.1274414); Azure means UTC.
UtcTimestamp = Annotated[datetime | None, BeforeValidator(lambda value: _timestamp(value, naive_is_utc=True))]
