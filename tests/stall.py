"""A probe for event-loop stalls in Beacon's own code: every callback the loop runs is timed in the
loop thread's CPU time (not wall time, so a busy machine does not make a stall), and one that spends
more than the limit while running Beacon's code (app.py, bot/, cards/, services/) is recorded with the
coroutines it ran through. Test code and the fakes are not held to it: they stand in for the world."""

from __future__ import annotations

import asyncio.events
import gc
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEACON = tuple(str(ROOT / part) for part in ("app.py", "bot", "cards", "services"))


@dataclass
class Stall:
    seconds: float
    where: list[str]
    hot: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        spots = "; ".join(self.hot) or "no sample"
        return (f"{self.seconds * 1000:.0f} ms of CPU in one callback, suspended in " + " → ".join(self.where[-4:])
                + f"; sampled while it ran: {spots}")


@dataclass
class Probe:
    limit: float
    stalls: list[Stall] = field(default_factory=list)


_probes: list[Probe] = []
_sampler: threading.Thread | None = None
_sampler_stop = threading.Event()
_original_run = asyncio.events.Handle._run


def _frames(callback: Any) -> list[str]:
    """The coroutines a task step ran through, outermost first, as file:function."""
    task = getattr(callback, "__self__", None)
    coroutine = task.get_coro() if isinstance(task, asyncio.Task) else None
    where = []
    while coroutine is not None and len(where) < 40:
        code = getattr(coroutine, "cr_code", None) or getattr(coroutine, "gi_code", None)
        if code is None:
            break
        where.append(f"{Path(code.co_filename).as_posix()}:{code.co_name}")
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
    if not where:
        function = getattr(callback, "__func__", callback)
        code = getattr(function, "__code__", None)
        if code is not None:
            where.append(f"{code.co_filename}:{code.co_name}")
    return where


_running: dict[str, Any] = {}
_collecting: dict[str, float] = {"since": 0.0, "spent": 0.0}


def _garbage_collection(phase: str, info: dict[str, Any]) -> None:
    """The collector runs inside whichever callback happened to allocate: its time is not that code's.
    A collection in another thread (the drawing threads collect after each drawing) is not the loop's."""
    if _running.get("thread") != threading.get_ident():
        return
    if phase == "start":
        _collecting["since"] = time.thread_time()
    else:
        _collecting["spent"] += time.thread_time() - _collecting["since"]


def _sample_forever() -> None:
    """Where the loop thread is while a callback runs long: the innermost frames, sampled every 20 ms."""
    while not _sampler_stop.wait(0.02):
        current = dict(_running)
        if not current or time.monotonic() - current["since"] < 0.04:
            continue
        frame = sys._current_frames().get(current["thread"])
        if frame is None:
            continue
        stack = traceback.extract_stack(frame)
        lines = [f"{Path(f.filename).as_posix().removeprefix(str(ROOT) + '/')}:{f.lineno} {f.name}"
                 for f in stack[-40:]]
        ours = [line for line in lines if line.startswith(("app.py", "bot/", "cards/", "services/"))]
        current["samples"].append(" ← ".join(reversed((ours[-2:] or []) + lines[-2:])))


def _timed_run(self: asyncio.events.Handle) -> None:
    probes = list(_probes)
    if not probes:
        return _original_run(self)
    samples: list[str] = []
    _running.update(thread=threading.get_ident(), since=time.monotonic(), samples=samples)
    started, collected = time.thread_time(), _collecting["spent"]
    try:
        return _original_run(self)
    finally:
        spent = time.thread_time() - started - (_collecting["spent"] - collected)
        _running.clear()
        if spent > min(probe.limit for probe in probes):
            where = _frames(self._callback)
            ours = [w for w in where if w.startswith(BEACON)]
            in_tests = bool(where) and where[0].startswith(str(ROOT / "tests"))
            if ours and not in_tests:
                for probe in probes:
                    if spent > probe.limit:
                        hot = [f"{n}× {spot}" for spot, n in Counter(samples).most_common(3)]
                        probe.stalls.append(Stall(spent, [w.removeprefix(str(ROOT) + "/") for w in where], hot))


def _install() -> None:
    """Time every callback the loop runs, and sample the loop thread while one runs long."""
    global _sampler
    asyncio.events.Handle._run = _timed_run  # type: ignore[method-assign]
    gc.callbacks.append(_garbage_collection)
    _sampler_stop.clear()
    _sampler = threading.Thread(target=_sample_forever, name="stall-sampler", daemon=True)
    _sampler.start()


def _uninstall() -> None:
    """Put the loop back as it was: nothing of the probe is left running once the last one ends."""
    global _sampler
    asyncio.events.Handle._run = _original_run  # type: ignore[method-assign]
    gc.callbacks.remove(_garbage_collection)
    _sampler_stop.set()
    if _sampler is not None:
        _sampler.join()
        _sampler = None


@contextmanager
def stall_probe(limit: float = 0.1) -> Iterator[Probe]:
    """Record every callback that runs Beacon's code for longer than `limit` seconds of CPU. The
    loop runs its callbacks as before once the last probe ends."""
    if not _probes:
        _install()
    probe = Probe(limit)
    _probes.append(probe)
    try:
        yield probe
    finally:
        _probes.remove(probe)
        if not _probes:
            _uninstall()
