"""SMS to responders and stakeholders: one adapter per provider (acs.py, twilio.py), chosen by
SMS_PROVIDER in factory.py, and the text rules they share.

Text rules: a page is one SMS segment where possible, because a multi-part SMS can arrive in
pieces, out of order, and costs more per recipient. Phone numbers are personal data, so logs and
error texts only ever show their last four digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from services.ports import SmsSender

GSM7_LIMIT = 160  # septets in one GSM 03.38 segment
UCS2_LIMIT = 70  # UTF-16 code units in one segment once any character is outside GSM-7

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("\f^{}\\[]~|€")  # sent as escape + char: two septets each

# Typography that phones and Teams put into text and that would otherwise force the whole
# message into UCS-2 (70 characters) for the sake of one curly quote.
_TO_GSM7 = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
    "“": '"', "”": '"', "„": '"', "″": '"',
    "–": "-", "—": "-", "−": "-", "·": "-", "•": "-",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\t": " ",
    "…": "...",
})


def is_gsm7(text: str) -> bool:
    return all(char in _GSM7_BASIC or char in _GSM7_EXTENDED for char in text)


def fit_sms(text: str) -> str:
    """The text as one SMS segment: 160 GSM-7 septets, or 70 UCS-2 units when it needs Unicode;
    longer text is cut (at a word boundary when one is near) and ends with an ellipsis."""
    text = text.translate(_TO_GSM7).strip()
    if is_gsm7(text):
        # GSM-7 has no "…" character; three dots keep the message in the cheaper alphabet.
        return _trim(text, GSM7_LIMIT, _septets, "...")
    return _trim(text, UCS2_LIMIT, _utf16_units, "…")


def _septets(char: str) -> int:
    return 2 if char in _GSM7_EXTENDED else 1


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1  # emoji and other astral characters take a surrogate pair


def _trim(text: str, limit: int, size: Callable[[str], int], ellipsis: str) -> str:
    if sum(size(char) for char in text) <= limit:
        return text
    budget = limit - sum(size(char) for char in ellipsis)
    kept: list[str] = []
    used = 0
    for char in text:
        used += size(char)
        if used > budget:
            break
        kept.append(char)
    cut = "".join(kept)
    space = cut.rfind(" ")
    mid_word = not text[len(cut)].isspace()
    if mid_word and 0 < space and space >= len(cut) - 15:  # a whole last word reads better than half of one
        cut = cut[:space]
    return cut.rstrip(" ,;:-\n") + ellipsis


def mask_phone(number: str) -> str:
    """All digits but the last four replaced by '*', the rest of the format kept: +*******4567."""
    digits = sum(char.isdigit() for char in number)
    hide = max(0, digits - 4)
    masked = []
    for char in number:
        if char.isdigit() and hide:
            masked.append("*")
            hide -= 1
        else:
            masked.append(char)
    return "".join(masked)


_PHONE_LIKE = re.compile(r"\+?\d[\d ()\-.]{5,}\d")


def redact_phones(text: str) -> str:
    """Providers echo the number in their error texts; mask anything that looks like one."""
    def mask(match: re.Match[str]) -> str:
        found = match.group(0)
        return mask_phone(found) if sum(c.isdigit() for c in found) >= 7 else found

    return _PHONE_LIKE.sub(mask, text)


class SmsAdapter(SmsSender, Protocol):
    """What the factory hands to app.py: the SmsSender port plus a pre-flight check and shutdown."""

    provider: str

    async def check(self) -> str: ...

    async def aclose(self) -> None: ...
