"""How big a value is in an activity sent to the Bot Connector: its JSON with every character outside
ASCII escaped as `\\uXXXX` (an emoji as two of them, 12 bytes), as JSON allows and as Beacon's
activities are sent. Cards (cards/budget.py) and joined thread notes (services/comms/thread_notes.py)
are measured this way against what Teams accepts in one message."""

from __future__ import annotations

import json
from typing import Any


def wire_size(value: Any) -> int:
    """Bytes `value` takes in an activity's JSON."""
    return len(json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii"))
