"""What a reader sees on an Adaptive Card, read the way Teams reads it.

Teams renders Markdown in TextBlocks and FactSets (titles and values) and shows button, choice
and input texts as they are. `markdown_texts` lists the first kind as sent; `shown` is everything
a reader sees, with the CommonMark backslash escapes taken out, so a test can say "the title reads
`Checkout [x](y)`" without caring how it was escaped. `live_hostile_markdown` finds the corpus'
links, images and emphasis a client would render.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation


def unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def markdown_texts(card: dict[str, Any]) -> list[str]:
    """Every text Teams renders as Markdown, as sent."""
    found: list[str] = []
    for node in _walk(card):
        kind = node.get("type")
        if kind == "TextBlock":
            found.append(str(node.get("text", "")))
        elif kind == "FactSet":
            for fact in node.get("facts", []):
                found += [str(fact.get("title", "")), str(fact.get("value", ""))]
    return found


def plain_texts(card: dict[str, Any]) -> list[str]:
    """Texts shown without Markdown: button and choice titles, input labels."""
    found: list[str] = []
    for node in _walk(card):
        kind = str(node.get("type", ""))
        if kind.startswith("Action.") and "title" in node:
            found.append(str(node["title"]))
        elif kind.startswith("Input."):
            found += [str(node.get(key, "")) for key in ("label", "placeholder", "title")]
            found += [str(choice.get("title", "")) for choice in node.get("choices", [])]
    return found


def input_values(card: dict[str, Any]) -> dict[str, str]:
    """What each input holds, by id: what was typed, given back as typed."""
    return {str(node["id"]): str(node.get("value", "")) for node in _walk(card)
            if str(node.get("type", "")).startswith("Input.") and "id" in node}


def shown(card: dict[str, Any]) -> str:
    """All a reader sees, one text per line, Markdown escapes taken out."""
    values = list(input_values(card).values())
    return "\n".join([unescape(t) for t in markdown_texts(card)] + plain_texts(card) + values)


def _characters(text: str) -> list[tuple[str, bool]]:
    """Each character with whether a backslash escaped it."""
    result: list[tuple[str, bool]] = []
    index = 0
    while index < len(text):
        if text[index] == "\\" and _ESCAPE.match(text, index):
            result.append((text[index + 1], True))
            index += 2
            continue
        result.append((text[index], False))
        index += 1
    return result


# The syntax of the hostile corpus (tests/unit/test_inert_text.py), as a renderer would find it.
HOSTILE_SYNTAX = [r"\]\(\s*https://evil", r"!\[pixel", r"[*_]LOUD|LOUD[*_]", r"[*_]shy|shy[*_]", r"`code|code`",
                  r"~~gone|gone~~", r"\]\(https://evil\.example/fix"]


def live_hostile_markdown(text: str) -> list[str]:
    """Which of the corpus' links, images and emphases a Markdown renderer would make live."""
    live = "".join("\0" if escaped else char for char, escaped in _characters(text))
    return [pattern for pattern in HOSTILE_SYNTAX if re.search(pattern, live)]
