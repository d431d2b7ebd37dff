"""Freshdesk's numeric codes, and how Beacon's priorities map onto them.

Freshdesk has four priorities and Beacon's matrix five (ITIL's P1..P5), so the two lowest share
Freshdesk's "low": both are handled in office hours and neither pages anyone.
"""

from __future__ import annotations

from enum import IntEnum


class FreshdeskPriority(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    URGENT = 4


class FreshdeskStatus(IntEnum):
    OPEN = 2
    PENDING = 3
    RESOLVED = 4
    CLOSED = 5


class FreshdeskSource(IntEnum):
    EMAIL = 1
    PORTAL = 2
    PHONE = 3
    CHAT = 7
    FEEDBACK_WIDGET = 9
    OUTBOUND_EMAIL = 10


_BY_BEACON_PRIORITY: dict[str, FreshdeskPriority] = {
    "P1": FreshdeskPriority.URGENT,
    "P2": FreshdeskPriority.HIGH,
    "P3": FreshdeskPriority.MEDIUM,
    "P4": FreshdeskPriority.LOW,
    "P5": FreshdeskPriority.LOW,
}


def freshdesk_priority(priority: str, default: FreshdeskPriority = FreshdeskPriority.MEDIUM) -> int:
    """P1→4 urgent, P2→3 high, P3→2 medium, P4/P5→1 low.

    The priority matrix is configuration, so a site may name its levels differently; an unknown
    label gets `default` rather than failing the ticket that records the incident.
    """
    label = priority.strip().upper()
    if label.isdigit():
        label = f"P{label}"
    return int(_BY_BEACON_PRIORITY.get(label, default))
