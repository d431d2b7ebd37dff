"""The end-to-end suite's stall probe (tests/stall.py) and what it found: the first Graph call of a
process no longer loads the Graph models on the event loop (services/warm.py). The first report loads
its renderer in the drawing thread (bot/review.py), which the end-to-end report tests hold to the probe."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
import time

from tests.stall import ROOT, stall_probe

# A coroutine that, for the probe, is Beacon's code (its frames name a file under services/).
BUSY = compile("async def busy(seconds):\n    import time\n    end = time.thread_time() + seconds\n"
               "    while time.thread_time() < end:\n        pass\n", str(ROOT / "services" / "busy.py"), "exec")
namespace: dict[str, object] = {}
exec(BUSY, namespace)


async def test_a_callback_spending_beacons_cpu_past_the_limit_is_caught_and_named():
    with stall_probe(0.1) as probe:
        await asyncio.create_task(namespace["busy"](0.25))  # type: ignore[operator]
    assert len(probe.stalls) == 1 and probe.stalls[0].seconds >= 0.25
    assert "services/busy.py:busy" in str(probe.stalls[0])


async def test_short_callbacks_waiting_and_test_code_are_not_stalls():
    with stall_probe(0.1) as probe:
        await asyncio.create_task(namespace["busy"](0.02))  # type: ignore[operator]
        await asyncio.sleep(0.2)  # waiting costs no CPU
        end = time.thread_time() + 0.2
        while time.thread_time() < end:  # the test's own code stands for the world, not for Beacon
            pass
    assert probe.stalls == []


async def test_the_loop_runs_its_callbacks_as_before_once_the_last_probe_ends():
    original, callbacks = asyncio.events.Handle._run, list(gc.callbacks)
    with stall_probe(0.1):
        with stall_probe(0.5):  # probes nest, as a test's own probe inside the end-to-end fixture's
            assert asyncio.events.Handle._run is not original
        assert asyncio.events.Handle._run is not original  # the outer probe still times callbacks
        await asyncio.sleep(0)
    assert asyncio.events.Handle._run is original
    assert gc.callbacks == callbacks
    assert "stall-sampler" not in [thread.name for thread in threading.enumerate()]


FIRST_USE = """
import sys, time
from services.warm import warm_up
from services.graph.meetings import event_body  # loaded with Beacon, when Graph is configured
warm_up(graph={graph})  # what the warm-up thread does
before = set(sys.modules)
from services.ports import MeetingRequest, Recipient
from datetime import datetime, timezone, timedelta
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
start = datetime(2026, 1, 1, tzinfo=timezone.utc)
request = MeetingRequest(subject="INC-1 bridge", body_html="<p>b</p>", start=start, end=start + timedelta(hours=1),
                         attendees=(Recipient(name="A", email="a@example.com"),), external_id="x")
JsonSerializationWriter().write_object_value(None, event_body(request))
from kiota_serialization_json.json_parse_node import JsonParseNode
from msgraph.generated.models.event import Event
answer = {{"id": "AAMk1", "subject": "INC-1 bridge", "isOnlineMeeting": True,
          "onlineMeeting": {{"joinUrl": "https://teams.microsoft.com/l/meetup-join/1"}},
          "attendees": [{{"type": "required", "emailAddress": {{"address": "a@example.com", "name": "A"}}}}]}}
JsonParseNode(answer).get_object_value(Event)  # what Graph answers the POST with
print(len([m for m in set(sys.modules) - before if m.startswith("msgraph")]))
"""


def first_use_loads(graph: bool) -> int:
    result = subprocess.run([sys.executable, "-c", FIRST_USE.format(graph=graph)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.strip().splitlines()[-1])


def test_after_start_up_the_first_meeting_loads_nothing_on_the_event_loop():
    assert first_use_loads(graph=True) == 0
    assert first_use_loads(graph=False) > 100  # without the Graph warm-up, the first meeting loads its models

