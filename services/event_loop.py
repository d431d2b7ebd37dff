"""The server's event loop. Its own module, importing nothing of Beacon's, so that the benchmark
servers (the baseline bot included) run on the same loop without loading Beacon."""

from __future__ import annotations

import asyncio


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (every platform but Windows), else asyncio's own loop. Every
    click's database reads and writes wait for their turn on the loop several times, and uvloop
    spends less time per turn (see bench/card_actions.py)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
