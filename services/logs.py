"""Structured logs: one JSON object per line, with the incident and the Teams activity on every
line about them, and no secret or phone number in full.

LOG_FORMAT=json|text picks the format; unset, it is text when stderr is a terminal (a developer
running `python app.py`) and JSON otherwise (a container, App Service, CI), so log collectors get
JSON without anyone remembering a setting. The JSON formatter is the standard library's json:
python-json-logger would only save the dozen lines of `JsonFormatter.format`.

The context comes from contextvars: bot/adapter.py sets the activity id (and the incident a card
action names) for its turn; `bind_incident_handlers` sets the incident while the outbox delivers
an effect. Asyncio copies the context into each task, so concurrent turns never mix.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notify.sms import mask_phone
from services.outbox import Effect, EffectHandler, EffectHandlers, handlers_by_kind
from services.rotation import accepted_values
from services.settings import Settings

incident_var: ContextVar[int | None] = ContextVar("beacon_incident", default=None)
activity_var: ContextVar[str | None] = ContextVar("beacon_activity", default=None)

# E.164 as Beacon stores numbers ("+" then 7–15 digits, maybe grouped). Bare digit runs are left
# alone on purpose: in logs they are Teams activity ids, ticket numbers and timestamps.
_E164 = re.compile(r"(?<![\w+])\+\d(?:[ \-.()]?\d){6,14}(?!\d)")
MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter "secrets" would mask ordinary words
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "incident", "activity_id", "context"}


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    log_format: Literal["json", "text", ""] = Field("", validation_alias="LOG_FORMAT")


@contextmanager
def about_incident(incident: int | None) -> Iterator[None]:
    token = incident_var.set(incident)
    try:
        yield
    finally:
        incident_var.reset(token)


@contextmanager
def about_activity(activity_id: str | None) -> Iterator[None]:
    token = activity_var.set(activity_id)
    try:
        yield
    finally:
        activity_var.reset(token)


def bind_incident_handlers(handlers: EffectHandlers) -> dict[str, EffectHandler]:
    """Each outbox handler, logging with its effect's incident."""
    def bound(handler: EffectHandler) -> EffectHandler:
        async def deliver(effect: Effect) -> None:
            with about_incident(effect.incident_id):
                await handler(effect)
        return deliver

    return {kind: bound(handler) for kind, handler in handlers_by_kind(handlers).items()}


class ContextFilter(logging.Filter):
    """Stamps each record with the incident and activity of the code that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "incident", None) is None:
            record.incident = incident_var.get()
        if getattr(record, "activity_id", None) is None:
            record.activity_id = activity_var.get()
        return True


class Redactor:
    """Masks known secret values and E.164 phone numbers (all but the last four digits)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a connection string is masked whole before its access key part.
        self._secrets = sorted(unique, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _E164.sub(lambda match: mask_phone(match.group(0)), text)


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": self._redact(record.getMessage())}
        for key in ("incident", "activity_id"):
            if getattr(record, key, None) is not None:
                line[key] = getattr(record, key)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line and not key.startswith("_"):
                line[key] = self._redact(value) if isinstance(value, str) else _jsonable(value)
        if record.exc_info:
            line["exception"] = self._redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = self._redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s %(message)s")
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{name}={value}" for name, value in (("incident", getattr(record, "incident", None)),
                                                      ("activity", getattr(record, "activity_id", None)))
                 if value is not None]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return self._redact(super().format(record))


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (int, float, bool, type(None), list, dict)) else str(value)


def known_secrets(settings: Settings | None = None, *more: BaseSettings) -> list[str]:
    """Secret values of every settings object Beacon reads, including each part of ACS's
    connection string (the access key alone turns up in SDK errors) and each value of a webhook
    secret that lists an old and a new one during a rotation."""
    from services.freshdesk.settings import FreshdeskSettings
    from services.graph.settings import GraphSettings
    from services.notify.sms.settings import SmsSettings

    values = [settings.app_password, settings.report_link_secret, settings.status_link_secret,
              settings.ack_link_secret] if settings else []
    for extra in (GraphSettings(), FreshdeskSettings(), SmsSettings(), *more):
        for value in vars(extra).values():
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                values += [secret, *accepted_values(secret)]  # each value of a list being rotated
                values += [part.partition("=")[2] for part in secret.split(";") if "=" in part]
    for name in ("ALERTS_WEBHOOK_TOKEN", "APPLICATIONINSIGHTS_CONNECTION_STRING"):
        secret = os.environ.get(name, "")
        values += [secret, *accepted_values(secret)]
    return values


def choose_format(configured: str, stream: TextIO) -> Literal["json", "text"]:
    if configured in ("json", "text"):
        return configured  # type: ignore[return-value]
    return "text" if stream.isatty() else "json"


def setup_logging(settings: Settings | None = None, *, stream: TextIO | None = None,
                  log_format: str | None = None, secrets: Iterable[str] | None = None) -> logging.Handler:
    """Replace the root handlers with one that writes JSON (or text) lines to `stream` (stderr)."""
    stream = stream or sys.stderr
    chosen = choose_format(LogSettings().log_format if log_format is None else log_format, stream)
    redact = Redactor(known_secrets(settings) if secrets is None else secrets)
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter(redact) if chosen == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((settings.log_level if settings else "INFO").upper())
    return handler
