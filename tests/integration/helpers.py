"""What several integration tests share: a payments incident declared from chat, the process
around it, and a recorder of the statements a database is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.config import BeaconConfig, parse_config
from services.declaring import DeclareIncident, declare_incident
from services.deps import Deps, ThreadTarget
from services.incidents import Person

ALICE = Person("aad-alice", "Alice", "29:alice")
TARGET = ThreadTarget("http://connector.invalid/", "tenant", channel_id="19:incidents@thread.tacv2")


def payments_config(communications: dict[str, str], **directory: Any) -> BeaconConfig:
    """The payments-api service (high criticality) of the payments team, Priya as product head, a
    stakeholder channel, the given cadences, and any further `directory` entries."""
    return parse_config({
        "channels": {"stakeholder_channel": "19:stakeholders@thread.tacv2"},
        "services": [{"name": "payments-api", "team": "payments", "criticality": "high"}],
        "directory": {
            "product_head": {"name": "Priya", "email": "priya@example.com", "aad_object_id": "aad-priya"},
            "teams": [{"name": "payments", "email": "payments@example.com"}],
            **directory,
        },
        "communications": communications,
    })


async def declare(deps: Deps, title: str = "Checkout failing", **form: str) -> int:
    """A high-impact, high-urgency payments-api incident declared by Alice; its id."""
    values = {"title": title, "impact": "high", "urgency": "high", "service": "payments-api", **form}
    incident = (await declare_incident(DeclareIncident(values, ALICE, TARGET), deps)).incident
    assert incident.id
    return incident.id


def statements(sessions: async_sessionmaker[AsyncSession], keep: Callable[[str], bool]) -> list[str]:
    """Records each statement the database is sent that `keep` picks."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if keep(statement):
            seen.append(statement)

    event.listen(sessions.kw["bind"].sync_engine, "before_cursor_execute", record)
    return seen
