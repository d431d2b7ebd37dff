"""The incident domain: pure, no I/O."""

from services.incidents.errors import DomainError, IncidentNotFound, InvalidTransition, ValidationFailed
from services.incidents.model import (
    OPEN_STATUSES,
    TRANSITIONS,
    Incident,
    Level,
    Person,
    Status,
    TimelineEvent,
)
from services.incidents.priority import PriorityMatrix

__all__ = [
    "OPEN_STATUSES", "TRANSITIONS", "DomainError", "Incident", "IncidentNotFound", "InvalidTransition",
    "Level", "Person", "PriorityMatrix", "Status", "TimelineEvent", "ValidationFailed",
]
