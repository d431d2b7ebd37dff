"""Shared secrets that may hold several values at once, so one can be rotated without downtime.

ALERTS_WEBHOOK_TOKEN and FRESHDESK_WEBHOOK_SECRET take a comma-separated list: during a rotation
both the old and the new value are accepted, the senders are moved to the new one, and the old one
is then removed. Empty entries (a trailing comma, spaces) are ignored, so a value can never be
"" by accident and accept a request that presents nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from pydantic import SecretStr


def accepted_values(secret: SecretStr | str) -> tuple[str, ...]:
    """Each value of a comma-separated secret, without surrounding spaces and empty entries."""
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _digest(value: str) -> bytes:
    # surrogatepass: aiohttp keeps header bytes that are not UTF-8 as lone surrogates.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def matches_any(presented: str, accepted: Iterable[str]) -> bool:
    """Whether `presented` is one of `accepted`, in time that says nothing about which one or how
    much of a guess was right: every value is compared (no early exit), each comparison is
    constant-time, and over digests of equal length, so neither the values' lengths nor their
    number of matching characters shows in the answer's timing."""
    given = _digest(presented)
    found = False
    for value in accepted:
        found |= hmac.compare_digest(given, _digest(value))
    return found and bool(presented)
