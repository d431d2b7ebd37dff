"""The server's event loop (services/event_loop.py): uvloop where requirements.txt installs it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from services.event_loop import event_loop


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build: asyncio's own loop runs there")
def test_the_server_runs_on_uvloop():
    loop = event_loop()
    try:
        assert type(loop).__module__.startswith("uvloop")
        assert loop.run_until_complete(asyncio.sleep(0, result="ran")) == "ran"
    finally:
        loop.close()
