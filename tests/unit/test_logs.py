"""Structured logs: context on every line about an incident or activity; no secret or phone in full."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from services.logs import about_activity, about_incident, setup_logging
from services.settings import Settings
from services.telemetry import configure_telemetry


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def capture(secrets: list[str] | None = None, log_format: str = "json") -> io.StringIO:
    stream = io.StringIO()
    setup_logging(Settings(app_password="hunter2-bot-secret"), stream=stream, log_format=log_format,
                  secrets=secrets)
    return stream


def test_a_line_about_an_incident_carries_the_incident_and_the_activity() -> None:
    stream = capture()
    with about_activity("1732650000123"), about_incident(7):
        logging.getLogger("beacon.test").info("status changed to %s", "investigating")
    logging.getLogger("beacon.test").info("unrelated")
    first, second = lines(stream)
    assert first["incident"] == 7 and first["activity_id"] == "1732650000123"
    assert first["message"] == "status changed to investigating" and first["level"] == "INFO"
    assert "incident" not in second and "activity_id" not in second


def test_phone_numbers_and_the_app_password_are_masked() -> None:
    stream = capture(secrets=["hunter2-bot-secret"])
    logging.getLogger("beacon.test").warning("SMS to +44 7700 900123 failed; auth %s", "hunter2-bot-secret")
    message = str(lines(stream)[0]["message"])
    assert "hunter2-bot-secret" not in message and "***" in message
    assert "900123" not in message and message.count("*") >= 8 and "0123" in message


def test_known_secrets_come_from_settings() -> None:
    stream = capture(secrets=None)  # read from Settings and the outside systems' settings
    logging.getLogger("beacon.test").error("token hunter2-bot-secret leaked")
    assert "hunter2-bot-secret" not in stream.getvalue()


def test_each_value_of_a_webhook_secret_being_rotated_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """ALERTS_WEBHOOK_TOKEN and FRESHDESK_WEBHOOK_SECRET list an old and a new value during a
    rotation: a line that shows either one alone shows neither; so do the signed links' secrets."""
    monkeypatch.setenv("ALERTS_WEBHOOK_TOKEN", "old-alerts-token, new-alerts-token")
    monkeypatch.setenv("FRESHDESK_WEBHOOK_SECRET", "old-fd-secret,new-fd-secret")
    stream = io.StringIO()
    setup_logging(Settings(app_password="", report_link_secret="report-link-key", ack_link_secret="ack-link-key",
                           status_link_secret="status-link-key"), stream=stream, log_format="json")
    for value in ("new-alerts-token", "old-alerts-token", "old-fd-secret", "new-fd-secret", "report-link-key",
                  "ack-link-key", "status-link-key"):
        logging.getLogger("beacon.test").warning("presented %s", value)
    assert [line["message"] for line in lines(stream)] == ["presented ***"] * 7


def test_text_format_keeps_the_context_too() -> None:
    stream = capture(log_format="text")
    with about_incident(3):
        logging.getLogger("beacon.test").info("posted")
    assert "[incident=3]" in stream.getvalue() and stream.getvalue().rstrip().endswith("posted")


def test_exceptions_are_masked_too() -> None:
    stream = capture(secrets=["s3cr3t-value"])
    try:
        raise RuntimeError("login failed with s3cr3t-value for +15551234567")
    except RuntimeError:
        logging.getLogger("beacon.test").exception("oops")
    exception = str(lines(stream)[0]["exception"])
    assert "s3cr3t-value" not in exception and "5551234567" not in exception


def test_no_connection_string_configures_no_telemetry() -> None:
    loaded: list[bool] = []
    assert configure_telemetry("", load=lambda: loaded.append(True)) is False  # type: ignore[func-returns-value]
    assert loaded == []


def test_a_connection_string_configures_azure_monitor() -> None:
    calls: list[dict[str, object]] = []
    assert configure_telemetry("InstrumentationKey=x", load=lambda: lambda **kw: calls.append(kw)) is True
    assert calls == [{"connection_string": "InstrumentationKey=x", "logger_name": "beacon"}]
