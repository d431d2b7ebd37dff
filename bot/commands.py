"""Text commands sent to Beacon with an @mention; the words match the Teams manifest."""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMAND_NAMES = ("declare", "drill", "list", "show", "actions", "metrics", "oncall", "page", "status", "help")
_INCIDENT_NUMBER = re.compile(r"^(?:INC-?)?(\d{1,9})$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    name: str  # one of COMMAND_NAMES, or "" when not understood
    argument: str
    text: str


def parse_command(text: str) -> Command:
    text = " ".join((text or "").split())
    word, _, rest = text.partition(" ")
    word = word.lower().lstrip("/")
    if word in COMMAND_NAMES:
        return Command(word, rest.strip(), text)
    return Command("", text, text)


def parse_incident_number(argument: str) -> int | None:
    match = _INCIDENT_NUMBER.match(argument.strip())
    return int(match.group(1)) if match else None
