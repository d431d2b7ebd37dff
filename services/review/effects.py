"""The review's outbox effects: its cards in the incident thread (after the incident's other
posts: they share its Teams ordering key) and the review meeting in the organiser's calendar."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.effects import KEY_ONLY, Channel, OutboxEffect, ordering


@dataclass(frozen=True)
class ReviewThreadCard(OutboxEffect):
    """A review card (report request, reminder, summary, action reminder, drill report) in the
    incident thread; `details` are the card's own fields."""

    kind = "review.thread_card"
    channel = Channel.TEAMS
    incident_id: int
    card: str
    tag: str = field(metadata=KEY_ONLY)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:review:{self.tag}"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_teams(self.incident_id)

    def payload(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "card": self.card, **self.details}


@dataclass(frozen=True)
class CreateReviewEvent(OutboxEffect):
    """The review meeting as a Graph calendar event; `start` and `end` are ISO 8601."""

    kind = "review.create_event"
    channel = Channel.GRAPH
    incident_id: int
    subject: str
    body_html: str
    start: str
    end: str
    attendees: list[list[str]]
    description: str
    attempt: int = 1  # scheduled again after an event that could not be created: a new event

    @property
    def idempotency_key(self) -> str:
        again = f":{self.attempt}" if self.attempt > 1 else ""
        return f"incident:{self.incident_id}:review:event{again}"

    @property
    def ordering_key(self) -> str:
        return ordering.review_event(self.incident_id)

    def payload(self) -> dict[str, Any]:
        """As earlier releases wrote it; `attempt` only once an event had to be made again."""
        written = super().payload()
        if self.attempt == 1:
            written.pop("attempt")
        return written
