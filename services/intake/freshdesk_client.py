"""The Freshdesk client, plus the one read intake needs: finding the ticket an earlier attempt
may already have created.

Freshdesk has no idempotency key. When creating a ticket times out or fails with a 5xx, the
ticket may exist anyway; before trying again Beacon searches for it by its `INC-n` tag.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.delivery import PermanentDeliveryError
from services.freshdesk.client import FreshdeskClient
from services.ports import Ticket

# Tags are not unique across Beacon installs (a fresh database numbers from INC-1 again), so a
# ticket only counts if it was created around the incident's declaration or later.
_CLOCK_SLACK = timedelta(minutes=5)


class IncidentTickets(FreshdeskClient):
    async def find_incident_ticket(self, number: str, declared_at: datetime) -> Ticket | None:
        """The ticket tagged `number` and `beacon`, created since the incident was declared.
        None when there is none, or when the helpdesk does not offer search (then creating again
        is the best Beacon can do)."""
        query = f"\"tag:'{number}'\""
        try:
            response = await self._call(f"look for the ticket of {number}", "GET", "/search/tickets",
                                        params={"query": query}, urgent=True)
        except PermanentDeliveryError:
            return None
        try:
            results: Any = response.json().get("results", [])
        except (ValueError, AttributeError):
            return None
        for ticket in results if isinstance(results, list) else []:
            if isinstance(ticket, dict) and _ours(ticket, number, declared_at) and isinstance(ticket.get("id"), int):
                return Ticket(id=ticket["id"], url=self.ticket_url(ticket["id"]))
        return None


def _ours(ticket: dict[str, Any], number: str, declared_at: datetime) -> bool:
    tags = ticket.get("tags") or []
    try:
        created = datetime.fromisoformat(str(ticket.get("created_at", "")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return "beacon" in tags and number in tags and created.tzinfo is not None and created >= declared_at - _CLOCK_SLACK
