"""Validate Adaptive Cards against the official 1.5 schema (tests/data), plus the two host
extensions Teams documents and Beacon uses: `msteams` on the card (width, mention entities) and
`choices.data` (Data.Query, the people picker) on Input.ChoiceSet."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).parent / "data" / "adaptive-card-1.5.schema.json"

TEAMS_CARD_EXTENSION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "width": {"enum": ["Full"]},
        "entities": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["type", "text", "mentioned"],
            "properties": {
                "type": {"const": "mention"},
                "text": {"type": "string", "pattern": "^<at>.*</at>$"},
                "mentioned": {"type": "object", "required": ["id", "name"], "additionalProperties": False,
                              "properties": {"id": {"type": "string", "minLength": 1},
                                             "name": {"type": "string", "minLength": 1}}},
            }}},
    },
}
DATA_QUERY = {
    "type": "object", "additionalProperties": False, "required": ["type", "dataset"],
    "properties": {"type": {"const": "Data.Query"}, "dataset": {"type": "string"}},
}


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = copy.deepcopy(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    schema["definitions"]["AdaptiveCard"]["properties"]["msteams"] = TEAMS_CARD_EXTENSION
    schema["definitions"]["Input.ChoiceSet"]["properties"]["choices.data"] = DATA_QUERY
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def assert_valid_card(card: Any) -> None:
    errors = sorted(_validator().iter_errors(card), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '(card)'}: {e.message[:300]}" for e in errors[:10]]
        raise AssertionError("card is not valid Adaptive Card 1.5:\n" + "\n".join(lines))
    assert card.get("version") == "1.5", "Beacon sends Adaptive Card 1.5"
    _check_mentions(card)


def _check_mentions(card: dict[str, Any]) -> None:
    """Every <at>…</at> shown must have its entity, or Teams shows raw tags and notifies no one.
    Only rendered text counts: an input's value is never a mention."""
    from tests.cardtext import markdown_texts

    entities = {e["text"] for e in card.get("msteams", {}).get("entities", [])}
    for text in markdown_texts({"body": card.get("body", [])}):
        for tag in set(re.findall(r"<at>[^<]*</at>", text)):
            assert tag in entities, f"{tag} has no mention entity"
