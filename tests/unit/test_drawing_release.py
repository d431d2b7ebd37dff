"""After a chart, report or PDF is drawn (bot.review._released), its reference cycles are collected;
after the first one, the process's long-lived state is frozen out of collections, so a later
collection walks only what was made since instead of holding the interpreter lock (and the event
loop) for the 110 to 140 ms a walk of every object takes once the renderers are loaded."""

from __future__ import annotations

import gc
import weakref

from bot import review


class _Node:
    pass


def _draw() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]  # a cycle, as a figure's artists are
    return weakref.ref(a)


def test_drawings_cycles_are_collected_and_the_long_lived_state_is_frozen_after_the_first() -> None:
    review._FROZEN.clear()
    gc.unfreeze()
    try:
        first = review._released(_draw)
        assert first() is None
        frozen = gc.get_freeze_count()
        assert frozen > 0  # everything alive after the first drawing: later walks skip it
        later = review._released(_draw)
        assert later() is None  # a later drawing's cycles are still collected
        assert gc.get_freeze_count() == frozen  # frozen once, not after every drawing
    finally:
        gc.unfreeze()
        review._FROZEN.clear()
