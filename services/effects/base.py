"""The shape every outbox effect has, and the registry of kinds.

An effect is a frozen dataclass: its fields are what the handler needs (stored as the row's JSON
payload), and it says its kind (the row's `kind`, the name that finds its handler), the channel
that delivers it, its idempotency key and its ordering key. Kinds are spelled once, on the class;
the use cases build effects, never strings. The stored row keeps the format it always had (kind
string + JSON payload), so rows queued by an earlier release still deliver.

The channel is how delivery policy is chosen per system rather than per kind: Teams posts are paced
to Teams' per-tenant limit, and pages (another channel) never wait behind them.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any, ClassVar

# Metadata of a field that shapes the keys but is not written to the payload (e.g. the tag that
# tells one card update from the next): `tag: str = field(metadata=KEY_ONLY)`.
KEY_ONLY = {"stored": False}


class Channel(StrEnum):
    """The outside system an effect goes through; delivery policy (pacing, retries) is per channel."""

    TEAMS = "teams"
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    GRAPH = "graph"
    FRESHDESK = "freshdesk"


_TYPES: dict[str, type[OutboxEffect]] = {}


class OutboxEffect:
    """Base of the effect dataclasses. Subclasses set `kind` and `channel` and are registered."""

    kind: ClassVar[str]
    channel: ClassVar[Channel]
    # Delivered by the process that queued it the moment its transaction commits, ahead of
    # everything queued (services.store.outbox.ExpressLane): pages.
    express: ClassVar[bool] = False
    # Shows the incident as it is when delivered (a card redraw), so the one the outbox claims for
    # an incident also shows every change behind the others of its kind already queued for that
    # incident: the claim marks those skipped (services.outbox).
    shows_current_state: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is None:
            return
        known = _TYPES.get(kind)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(f"outbox kind {kind!r} is already {known.__qualname__}")
        _TYPES[kind] = cls

    @property
    def idempotency_key(self) -> str:
        """Names the incident, the message and the recipient: queued once however often it is asked."""
        raise NotImplementedError

    @property
    def ordering_key(self) -> str:
        """Effects sharing one are delivered one after another (services.effects.ordering)."""
        raise NotImplementedError

    @property
    def filed_under(self) -> int | None:
        """The incident whose timeline hears of a failure (the row's incident_id)."""
        value = getattr(self, "incident_id", None)
        return int(value) if value is not None else None

    def payload(self) -> dict[str, Any]:
        """The JSON the handler reads: the dataclass fields, less the key-only ones."""
        assert dataclasses.is_dataclass(self)
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("stored", True)}


def effect_type(kind: str) -> type[OutboxEffect] | None:
    return _TYPES.get(kind)


def effect_types() -> dict[str, type[OutboxEffect]]:
    return dict(_TYPES)


def channel_of(kind: str) -> str:
    """The channel of a kind; a kind no effect type declares is judged by its prefix ("teams.x")."""
    found = _TYPES.get(kind)
    return str(found.channel) if found is not None else kind.split(".", 1)[0]
