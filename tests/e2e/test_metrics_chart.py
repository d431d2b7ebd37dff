"""`@Beacon metrics` draws its chart again only when a number on it changed: asked twice with the
same incidents it shows the same picture, drawn once; once another acknowledgement moves a mean,
the next ask draws the new numbers."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

import services.review.chart
from services.store.tables import IncidentRow
from tests.e2e.helpers import card_text
from tests.teams_activities import channel_message

ALICE = {"aad_object_id": "aad-alice", "name": "Alice Carter", "user_id": None}


async def store_acknowledged(stack: Any, number: int, ack_seconds: float) -> None:
    """A P1 declared yesterday and acknowledged `ack_seconds` later."""
    declared = stack.beacon.deps.clock.now() - timedelta(days=1, minutes=number)
    row = {"id": number, "version": 2, "title": f"Outage {number}", "description": "", "impact": "high",
           "urgency": "high", "priority": "P1", "status": "investigating", "service": "payments-api",
           "client": "", "source": "chat", "declared_by": ALICE, "declared_at": declared, "commander": None,
           "responders": [], "acknowledged_at": declared + timedelta(seconds=ack_seconds),
           "acknowledged_by": ALICE, "acknowledged_via": "card", "resolved_at": None, "resolution_summary": "",
           "config_version": "", "drill": False}
    async with stack.beacon.deps.uow() as uow:
        await uow.session.execute(insert(IncidentRow.__table__), [row])
        await uow.commit()


async def ask_metrics(stack: Any) -> tuple[str, str]:
    """Ask `@Beacon metrics`; the answer's text and its chart (the image's data URL)."""
    before = len(metrics_cards(stack))
    await stack.send(channel_message("metrics", service_url=stack.url))
    cards = metrics_cards(stack)
    assert len(cards) == before + 1  # posted during the turn
    card = cards[-1]
    image = next(item["url"] for item in card["body"] if item.get("type") == "Image")
    return card_text(card), image


def metrics_cards(stack: Any) -> list[dict[str, Any]]:
    return [m.cards[0] for m in stack.teams.posted() if m.cards and "Response metrics" in card_text(m.cards[0])]


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """Every chart drawn from here on (in the drawing thread)."""
    drawn: list[datetime] = []
    lock = threading.Lock()
    draw = services.review.chart.bar_chart

    def counted(*args: Any) -> bytes:
        with lock:
            drawn.append(datetime.now())
        return draw(*args)

    monkeypatch.setattr(services.review.chart, "bar_chart", counted)
    return drawn


async def test_the_chart_is_drawn_again_only_when_its_numbers_change(stack, draws):
    await store_acknowledged(stack, 1, 120.0)
    first_text, first_chart = await ask_metrics(stack)
    second_text, second_chart = await ask_metrics(stack)
    assert "ack 2 min" in first_text and second_text == first_text
    assert second_chart == first_chart
    assert len(draws) == 1

    await store_acknowledged(stack, 2, 600.0)  # P1's mean time to acknowledge: 2 → 6 minutes
    third_text, third_chart = await ask_metrics(stack)
    assert "ack 6 min" in third_text
    assert len(draws) == 2
    assert third_chart != first_chart
    _, fourth_chart = await ask_metrics(stack)
    assert fourth_chart == third_chart and len(draws) == 2
