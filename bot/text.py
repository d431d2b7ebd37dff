"""Plain text from the HTML that Teams sends for message bodies (the message a "Declare incident"
action runs on): the shared reader in services/html_text, one line per block, no blank lines, so
the first line makes the incident's title."""

from __future__ import annotations

from services.html_text import html_to_text as _layout


def html_to_text(html: str) -> str:
    return "\n".join(line for line in _layout(html or "").splitlines() if line)
