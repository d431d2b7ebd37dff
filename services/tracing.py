"""Spans an operator follows an incident by: each incoming HTTP request, each outgoing call (httpx:
Graph, Freshdesk, SMS; the Bot Connector), each outbox delivery and each scheduler batch, with the
incident number (`beacon.incident.number`: INC-42; `beacon.incident.numbers` for a batch) where one
is concerned, so a search for INC-42 in Application Insights finds its whole story.

Only the OpenTelemetry API is used here: until a tracer provider is installed
(services/telemetry.py, with APPLICATIONINSIGHTS_CONNECTION_STRING) every span is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

INCIDENT = "beacon.incident.number"
INCIDENTS = "beacon.incident.numbers"
tracer = trace.get_tracer("beacon")  # a proxy: it follows a provider installed later


def incident_number(incident_id: int | None) -> str | None:
    return f"INC-{incident_id}" if incident_id else None


def tag_incident(number: str | None) -> None:
    """Name the incident (INC-42) on the span in progress: the request, delivery or batch that changed it."""
    if number:
        trace.get_current_span().set_attribute(INCIDENT, number)


@contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, incident: str | None = None,
         incidents: Iterable[str] = (), **attributes: Any) -> Iterator[Span]:
    numbers = sorted(set(incidents))
    with tracer.start_as_current_span(name, kind=kind) as current:
        if incident:
            current.set_attribute(INCIDENT, incident)
        if numbers:
            current.set_attribute(INCIDENTS, numbers)
        for key, value in attributes.items():
            if value is not None:
                current.set_attribute(key, value)
        yield current


def tracing_on() -> bool:
    """Whether a tracer provider is installed (services/telemetry.py); until one is, spans are no-ops."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@web.middleware
async def traced_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    """A server span per request, named by its route (not its path: /reports/INC-7 is one route).
    Without a tracer provider the request goes straight on: a no-op span per alert of a storm
    is not free."""
    if not tracing_on():
        return await handler(request)
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
    with span(f"{request.method} {route or request.path}", kind=SpanKind.SERVER,
              **{"http.request.method": request.method, "http.route": route or None,
                 "url.path": request.path}) as current:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            current.set_attribute("http.response.status_code", error.status)
            raise
        current.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            current.set_status(StatusCode.ERROR)
        return response


def instrument_outgoing_http() -> None:
    """Client spans for every httpx request (Graph through msgraph-sdk, Freshdesk, SMS, voice)."""
    try:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    except ImportError:  # the instrumentation comes with azure-monitor-opentelemetry
        return
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
