"""Microsoft Graph adapters: meetings (Conferencing), email (Mailer), calls (Calling), channels.

`build_graph_adapters(GraphSettings())` is what the composition root calls. The names are loaded
on first use: msgraph-sdk is large, and a Beacon without Graph settings should not pay for it
in start-up time and memory.
"""

from __future__ import annotations

import importlib
from typing import Any

from services.graph.settings import GraphSettings

_LAZY = {
    "GraphAdapters": "services.graph.adapters", "build_graph_adapters": "services.graph.adapters",
    "GraphCalling": "services.graph.calls", "GraphChannels": "services.graph.channels",
    "ChannelCreator": "services.graph.channels", "IncidentChannel": "services.graph.channels",
    "GraphMailer": "services.graph.mail", "EventsConferencing": "services.graph.meetings",
    "OnlineMeetingsConferencing": "services.graph.online_meetings",
}

__all__ = ["GraphSettings", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'services.graph' has no attribute {name!r}")
