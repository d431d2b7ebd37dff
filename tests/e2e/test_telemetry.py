"""Traces an operator follows an incident by, recorded with OpenTelemetry's in-memory exporter: a
declaration through /api/messages gives a server span for each request, a span per outbox delivery
(the Teams card through the Bot Connector, the Freshdesk ticket over httpx) and a span per scheduler
batch (the timed update falling due), each naming the incident (INC-1)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.tracing import INCIDENT, INCIDENTS, instrument_outgoing_http
from tests.e2e.helpers import declare, eventually
from tests.e2e.test_freshdesk import helpdesk


@pytest.fixture(autouse=True)
def no_outside_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("FRESHDESK_", "ALERTS_"))]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider (installed once: OpenTelemetry allows one) with an in-memory
    exporter, added once for the module: a provider's span processors cannot be taken off again, so
    one added per test would pile up and every later span would go through each of them."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument_outgoing_http()  # what configure_telemetry does with Application Insights set
    yield exporter
    exporter.shutdown()  # later modules' spans are no longer kept


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The spans of this test only."""
    exporter.clear()
    yield exporter
    exporter.clear()


def named(spans: InMemorySpanExporter, prefix: str, kind: SpanKind | None = None) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans()
            if s.name.startswith(prefix) and (kind is None or s.kind == kind)]


def attribute(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


async def test_a_declaration_is_traced_from_the_request_to_teams_freshdesk_and_the_timed_update(
        database_url: str, spans: InMemorySpanExporter) -> None:
    async with helpdesk(database_url, communications={"responder_update_high": "PT1S",
                                                      "responder_update_other": "PT1S"}) as (stack, freshdesk):
        await declare(stack, "Checkout failing")
        await eventually(lambda: named(spans, "scheduler batch"), what="a scheduler batch span")
        await eventually(lambda: [s for s in named(spans, "POST", SpanKind.CLIENT)
                                  if "/api/v2/tickets" in str(attribute(s, "url.full") or attribute(s, "http.url"))],
                         what="an httpx span for the Freshdesk ticket")

    requests = named(spans, "POST /api/messages", SpanKind.SERVER)
    assert requests and all(attribute(s, "http.response.status_code") in (200, 201) for s in requests)
    assert "INC-1" in {attribute(s, INCIDENT) for s in requests}, "the submit that declared names its incident"

    deliveries = named(spans, "deliver ")
    card = [s for s in deliveries if attribute(s, "beacon.outbox.kind") == "teams.post_card"]
    ticket = [s for s in deliveries if attribute(s, "beacon.outbox.kind") == "freshdesk.create"]
    assert card and attribute(card[0], INCIDENT) == "INC-1"
    assert ticket and attribute(ticket[0], INCIDENT) == "INC-1", sorted({attribute(s, "beacon.outbox.kind")
                                                                       for s in deliveries})

    connector = named(spans, "Bot Connector", SpanKind.CLIENT)
    assert any(s.parent is not None and s.parent.span_id == card[0].context.span_id for s in connector), \
        "the card's Bot Connector call is a child of its delivery"
    tickets = [s for s in named(spans, "POST", SpanKind.CLIENT)
               if "/api/v2/tickets" in str(attribute(s, "url.full") or attribute(s, "http.url"))]
    assert any(s.parent is not None and s.parent.span_id == ticket[0].context.span_id for s in tickets), \
        "the Freshdesk request is a child of the ticket's delivery"

    batches = named(spans, "scheduler batch")
    assert any("INC-1" in (attribute(s, INCIDENTS) or ()) for s in batches)
