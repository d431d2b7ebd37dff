"""De-duplicating people by an identity key (email, AAD object id), keeping the first seen."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def unique_by(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """Items whose normalised key is non-empty and not seen before, in order."""
    seen: set[str] = set()
    result = []
    for item in items:
        identity = key(item).strip().lower()
        if identity and identity not in seen:
            seen.add(identity)
            result.append(item)
    return result
