"""Outbox effects as types: what each effect on the outside carries, which channel delivers it,
its idempotency key and its ordering key. See base.py for why, ordering.py for the keys."""

from services.effects.base import KEY_ONLY, Channel, OutboxEffect, channel_of, effect_type, effect_types

__all__ = ["KEY_ONLY", "Channel", "OutboxEffect", "channel_of", "effect_type", "effect_types"]
