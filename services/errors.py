"""Beacon's errors, in one tree.

    ConcurrentUpdate     someone saved the incident (or its timers) between this transaction's read
                         and its write; the use case rolls back, reloads and judges again. Raised by
                         the store, caught by the use cases; never shown to anyone.
"""

from __future__ import annotations


class BeaconError(Exception):
    """The root of Beacon's own errors."""


class ConcurrentUpdate(BeaconError):
    """Someone else changed the incident between our read and our write."""
