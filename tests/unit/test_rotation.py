"""Webhook secrets listing an old and a new value during a rotation (services/rotation.py)."""

from __future__ import annotations

import hmac

import pytest
from pydantic import SecretStr

from services import rotation
from services.rotation import accepted_values, matches_any


def test_each_listed_value_counts_and_empty_entries_never_do() -> None:
    assert accepted_values(SecretStr(" old-token , new-token,, ")) == ("old-token", "new-token")
    assert accepted_values(",  ,") == ()
    for presented in ("old-token", "new-token"):
        assert matches_any(presented, accepted_values("old-token,new-token"))
    for presented in ("", "old-token,new-token", "third-token", "old-toke", "old-token "):
        assert not matches_any(presented, accepted_values("old-token,new-token")), presented


def test_every_value_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the number of comparisons (and so the time taken) is the same whether the
    first, the last or no value matches."""
    compared: list[tuple[bytes, bytes]] = []
    constant_time = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(rotation.hmac, "compare_digest", counting)
    values = ("first-token", "second-token", "a-much-longer-third-token")
    for presented in (*values, "none-of-them"):
        compared.clear()
        matches_any(presented, values)
        assert len(compared) == 3, presented
        assert {len(a) for a, b in compared} | {len(b) for a, b in compared} == {32}  # digests: lengths hidden
