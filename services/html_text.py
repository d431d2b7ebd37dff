"""Plain text of an HTML fragment, as a reader would see it laid out: a ticket's description
(Freshdesk sends HTML), and the plain-text part of an email whose sender wrote only HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _TextOnly(HTMLParser):
    """Keeps the text of an HTML fragment as a browser would lay it out in lines.

    Blocks (p, div, li) start a line without stacking blank lines; <br> always breaks;
    whitespace inside text collapses as in HTML; scripts and styles are dropped.
    """

    _BLOCKS = frozenset({"p", "div", "li", "tr", "table", "ul", "ol", "blockquote", "pre",
                         "h1", "h2", "h3", "h4", "h5", "h6"})
    _HIDDEN = frozenset({"script", "style", "head", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._line_start = True

    def _newline(self, always: bool) -> None:
        if always or not self._line_start:
            self.parts.append("\n")
            self._line_start = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in ("br", "hr"):
            self._newline(always=True)
        elif tag in self._BLOCKS:
            self._newline(always=False)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self._newline(always=False)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(_SPACES.sub(" ", data))
            self._line_start = self._line_start and not data.strip()


# A tag or an entity means HTML (Freshdesk's description); otherwise the line breaks are the text's.
_MARKUP = re.compile(r"<[A-Za-z/!]|&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_SPACES = re.compile(r"\s+")


def html_to_text(html: str) -> str:
    """Plain text of a ticket's HTML: a line per block or <br>, at most one blank line in a row."""
    if _MARKUP.search(html):
        parser = _TextOnly()
        try:
            parser.feed(html)
            parser.close()
        except (AssertionError, ValueError):
            pass  # html.parser gives up on some broken markup; keep the text read until then
        html = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in html.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
