"""How big a card is on the wire, against what Teams accepts in one bot message.

Microsoft documents about 28 KB for a bot message carrying a card (40 KB in some places); the
smaller figure is the one every client honours. The Bot Connector receives JSON in which every
character outside ASCII may be escaped as `\\uXXXX` (an emoji as two of them, 12 bytes), so a card
is measured that way, not by its Python length.
"""

from __future__ import annotations

from typing import Any

from services.wire import wire_size

MAX_CARD_BYTES = 28 * 1024
HEADROOM = 2 * 1024  # the activity around the attachment: ids, conversation, entities


def fits(card: Any) -> bool:
    return wire_size(card) <= MAX_CARD_BYTES - HEADROOM
