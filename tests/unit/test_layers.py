"""The seams the code keeps: use cases and the Teams surface reach the database only through the
unit of work's repositories."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The repositories themselves (hung off the unit of work), and the metrics queries (read straight
# from the session for now).
STORE_MODULES = {"services/bridge/store.py", "services/intake/alert_store.py", "services/intake/store.py",
                 "services/review/store.py", "services/paging/store.py", "services/paging/feed_tables.py",
                 "services/paging/metrics.py", "services/metrics.py", "services/review/metrics.py",
                 "services/status_page/store.py", "services/status_page/subscribers.py", "services/channels/store.py"}
# `uow.session`, and a repository's own `self._uow.session`, which the first spelling does not catch.
REACHING = re.compile(r"\b_?uow\.session\b")


def _sources(*folders: str) -> dict[str, str]:
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
            for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))} | {
        "app.py": (ROOT / "app.py").read_text(encoding="utf-8")}


def test_only_the_store_modules_touch_the_session_of_a_unit_of_work() -> None:
    reaching = [name for name, text in _sources("services", "bot").items()
                if REACHING.search(text)
                and not name.startswith("services/store/") and name not in STORE_MODULES]
    assert reaching == []
