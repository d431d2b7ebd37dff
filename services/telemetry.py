"""OpenTelemetry traces and metrics to Application Insights, when
APPLICATIONINSIGHTS_CONNECTION_STRING is set (the Bicep sets it on the app host). The spans
themselves are made in services/tracing.py.

azure-monitor-opentelemetry is imported only then, so a laptop or CI run never loads it and a
deployment without the package still starts (with a warning saying what to install).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from services.tracing import instrument_outgoing_http

log = logging.getLogger("beacon.telemetry")
SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"


def _azure_monitor() -> Callable[..., Any] | None:
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
    except ImportError:
        return None
    return configure_azure_monitor  # type: ignore[no-any-return]


def configure_telemetry(connection_string: str | None = None,
                        load: Callable[[], Callable[..., Any] | None] = _azure_monitor) -> bool:
    """True when telemetry now goes to Application Insights."""
    connection_string = (os.environ.get(SETTING, "") if connection_string is None else connection_string).strip()
    if not connection_string:
        return False
    configure = load()
    if configure is None:
        log.warning("%s is set but azure-monitor-opentelemetry is not installed: "
                    "pip install 'azure-monitor-opentelemetry>=1.6,<2' to send traces and metrics", SETTING)
        return False
    # Our own logger only: the SDK's loggers would export their own HTTP chatter, in a loop.
    configure(connection_string=connection_string, logger_name="beacon")
    instrument_outgoing_http()  # Graph, Freshdesk, SMS and voice calls (services/tracing.py)
    log.info("OpenTelemetry traces, metrics and logs go to Application Insights")
    return True
