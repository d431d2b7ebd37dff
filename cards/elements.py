"""Small typed builders for Adaptive Card 1.5 elements, so no card is edited as raw JSON."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from services.verbs import Verb

Json = dict[str, Any]
CARD_VERSION = "1.5"
_MENTION_TAG = re.compile(r"</?at>", re.IGNORECASE)


# Teams renders Markdown in TextBlocks and FactSets: links, images, emphasis, code and strike.
# A backslash before each of these characters makes the client show it as typed (CommonMark
# escapes). Escaping the brackets and parentheses as well means that even a client that ignored
# escapes would find no `](` to make a link of.
_MARKDOWN = re.compile(r"([\\`*_\[\]()~])")


def label(text: object) -> str:
    """Outside text for places Teams shows without Markdown (button and choice titles, mention
    names, plain-text messages): no forged @mentions, no card date functions."""
    value = "" if text is None else str(text)
    value = _MENTION_TAG.sub("", value)
    return value.replace("{{", "{ {").replace("}}", "} }")


def plain(text: object) -> str:
    """Text from a person, an alert, a ticket or Graph, made inert for a TextBlock or a FactSet:
    no forged @mentions, no card date functions, and no live Markdown (a title such as
    `Checkout down [sign in here](https://evil.example)` shows as typed, not as a link).
    Every card builder passes outside text through here, exactly once."""
    return _MARKDOWN.sub(r"\\\1", label(text))


def short(value: str, limit: int) -> str:
    """Outside text cut to `limit` characters, saying so with an ellipsis (cut before `plain`)."""
    return value if len(value) <= limit else value[:limit - 1] + "…"


def card_time(moment: datetime) -> str:
    """The moment as the Adaptive Card DATE/TIME functions take it (RFC 3339, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(moment: datetime | None) -> str:
    """A time each reader sees in their own time zone (Adaptive Card DATE/TIME functions)."""
    if moment is None:
        return "—"
    stamp = card_time(moment)
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


def text(value: str, *, size: str | None = None, weight: str | None = None, color: str | None = None,
         subtle: bool = False, wrap: bool = True, spacing: str | None = None) -> Json:
    block: Json = {"type": "TextBlock", "text": value, "wrap": wrap}
    if size:
        block["size"] = size
    if weight:
        block["weight"] = weight
    if color:
        block["color"] = color
    if subtle:
        block["isSubtle"] = True
    if spacing:
        block["spacing"] = spacing
    return block


def facts(pairs: list[tuple[str, str]]) -> Json:
    return {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in pairs]}


def container(items: list[Json], *, style: str | None = None, bleed: bool = False, id_: str = "",
              visible: bool = True, select_action: Json | None = None, separator: bool = False) -> Json:
    block: Json = {"type": "Container", "items": items}
    if separator:
        block["separator"] = True
    if style:
        block["style"] = style
    if bleed:
        block["bleed"] = True
    if id_:
        block["id"] = id_
    if not visible:
        block["isVisible"] = False
    if select_action:
        block["selectAction"] = select_action
    return block


def column(items: list[Json], *, width: str = "stretch", style: str | None = None, align: str | None = None) -> Json:
    block: Json = {"type": "Column", "items": items, "width": width}
    if style:
        block["style"] = style
    if align:
        block["verticalContentAlignment"] = align
    return block


def column_set(columns: list[Json]) -> Json:
    return {"type": "ColumnSet", "columns": columns}


def toggle_action(title: str, targets: list[str]) -> Json:
    """Show or hide elements of the same card (no round trip to Beacon)."""
    return {"type": "Action.ToggleVisibility", "title": label(title), "targetElements": targets}


def execute(title: str, verb: Verb, data: Json | None = None, *, style: str | None = None,
            inputs: str | None = None) -> Json:
    action: Json = {"type": "Action.Execute", "title": label(title), "verb": verb.value,
                    "data": dict(data or {})}
    if style:
        action["style"] = style
    if inputs:
        action["associatedInputs"] = inputs
    return action


def _styled(action: Json, style: str | None) -> Json:
    """`style`: "positive" for the action a card is for, "destructive" for one that cannot be undone."""
    if style:
        action["style"] = style
    return action


def open_dialog(title: str, verb: Verb, data: Json | None = None, *, style: str | None = None) -> Json:
    """Action.Submit that opens a Teams dialog (task/fetch) instead of posting a message."""
    return _styled({"type": "Action.Submit", "title": label(title),
                    "data": {"msteams": {"type": "task/fetch"}, "verb": verb.value, **(data or {})}}, style)


def submit(title: str, verb: Verb, data: Json | None = None, *, style: str | None = None) -> Json:
    return _styled({"type": "Action.Submit", "title": label(title), "data": {"verb": verb.value, **(data or {})}},
                   style)


def open_url(title: str, url: str) -> Json:
    return {"type": "Action.OpenUrl", "title": label(title), "url": url}


def show_card(title: str, body: list[Json], actions: list[Json]) -> Json:
    return {"type": "Action.ShowCard", "title": label(title),
            "card": {"type": "AdaptiveCard", "body": body, "actions": actions}}


def action_set(actions: list[Json]) -> Json:
    return {"type": "ActionSet", "actions": actions}


def input_text(id_: str, title: str, *, value: str = "", required: bool = False, multiline: bool = False,
               placeholder: str = "", max_length: int | None = None) -> Json:
    """`value` is shown as typed (an input renders no Markdown), so a form shown again after an
    error gives back exactly what was submitted."""
    block: Json = {"type": "Input.Text", "id": id_, "label": title, "isMultiline": multiline}
    if value:
        block["value"] = value if max_length is None else value[:max_length]
    if required:
        block["isRequired"] = True
        block["errorMessage"] = f"{title} is required"
    if placeholder:
        block["placeholder"] = placeholder
    if max_length:
        block["maxLength"] = max_length
    return block


def input_date(id_: str, title: str, *, value: str = "") -> Json:
    """A date picker; its value is "YYYY-MM-DD" as the reader's calendar shows it."""
    block: Json = {"type": "Input.Date", "id": id_, "label": title}
    if value:
        block["value"] = value
    return block


def input_time(id_: str, title: str, *, value: str = "") -> Json:
    """A time picker; its value is "HH:MM" on the reader's clock (Teams sends their zone apart)."""
    block: Json = {"type": "Input.Time", "id": id_, "label": title}
    if value:
        block["value"] = value
    return block


def choice_set(id_: str, title: str, choices: list[tuple[str, str]], *, value: str = "",
               required: bool = False, compact: bool = True, multi: bool = False) -> Json:
    block: Json = {"type": "Input.ChoiceSet", "id": id_, "label": title,
                   "choices": [{"title": label(t), "value": v} for t, v in choices],
                   "style": "compact" if compact else "expanded"}
    if value:
        block["value"] = value
    if required:
        block["isRequired"] = True
        block["errorMessage"] = f"{title} is required"
    if multi:
        block["isMultiSelect"] = True
    return block


def toggle(id_: str, title: str, value: bool = False) -> Json:
    return {"type": "Input.Toggle", "id": id_, "title": label(title), "value": "true" if value else "false",
            "valueOn": "true", "valueOff": "false"}


# The people picker's datasets: the whole directory works only in one-to-one chats, dialogs and
# tabs; a card in a channel or a group chat searches the members of its conversation.
ORG_PEOPLE = "graph.microsoft.com/users"
CONVERSATION_PEOPLE = "graph.microsoft.com/users?scope=currentContext"


def people_picker(id_: str, title: str, *, dialog: bool, multi: bool = False, value: str = "",
                  known: list[tuple[str, str]] | None = None) -> Json:
    """Teams people picker: a ChoiceSet whose choices Teams searches as the reader types. In a
    dialog it searches the tenant's directory; in a card posted to a conversation, its members."""
    block = choice_set(id_, title, known or [], value=value, multi=multi)
    block["choices.data"] = {"type": "Data.Query", "dataset": ORG_PEOPLE if dialog else CONVERSATION_PEOPLE}
    return block


def mention(name: str, person_id: str) -> tuple[str, Json]:
    """Text and entity for an @mention that notifies the person (id: Teams MRI or AAD object id)."""
    tag = f"<at>{plain(name)}</at>"
    return tag, {"type": "mention", "text": tag, "mentioned": {"id": person_id, "name": label(name)}}


def card(body: list[Json], actions: list[Json] | None = None, *, mentions: list[Json] | None = None,
         refresh_verb: Verb | None = None, refresh_data: Json | None = None) -> Json:
    result: Json = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        result["actions"] = actions
    if mentions:
        unique = {m["text"] + m["mentioned"]["id"]: m for m in mentions}
        result["msteams"]["entities"] = list(unique.values())
    if refresh_verb:
        result["refresh"] = {"action": {"type": "Action.Execute", "verb": refresh_verb.value,
                                        "data": refresh_data or {}}}
    return result
