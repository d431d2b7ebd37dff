"""Reading what Teams would show, the way a responder would look at it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.cardschema import assert_valid_card
from tests.cardtext import shown
from tests.e2e.conftest import Stack
from tests.fakes._recording import Message
from tests.teams_activities import (
    CHANNEL_ID,
    Person,
    Users,
    card_action_invoke,
    channel_message,
    task_fetch,
    task_submit,
)


def card_text(card: dict[str, Any]) -> str:
    """The card's JSON, then what a reader sees on it (Markdown escapes taken out), to search in."""
    return json.dumps(card, ensure_ascii=False) + "\n" + shown(card)


def heading(card: dict[str, Any]) -> str:
    """"P1 · INC-1 · Triage": an incident card's severity badge and the line beside it, as read."""
    def column_sets(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("type") == "ColumnSet":
                yield node
            for key in ("body", "items"):
                yield from column_sets(node.get(key, []))
        elif isinstance(node, list):
            for value in node:
                yield from column_sets(value)

    for found in column_sets(card):
        badge, beside = found["columns"][0]["items"][0]["text"], found["columns"][1]["items"][0]["text"]
        return f"{badge} · {beside.replace('**', '')}"
    return ""


def card_version(card: dict[str, Any]) -> int:
    """The version every action on an incident card carries (wherever the action sits: the card's
    buttons, its primary row, "More…" or a form)."""
    def versions(node: Any) -> Any:
        if isinstance(node, dict):
            data = node.get("data") if str(node.get("type", "")).startswith("Action.") else None
            if isinstance(data, dict) and "version" in data:
                yield int(data["version"])
            for value in node.values():
                yield from versions(value)
        elif isinstance(node, list):
            for value in node:
                yield from versions(value)

    for version in versions({"body": card.get("body", []), "actions": card.get("actions", [])}):
        return version
    raise AssertionError(f"no versioned action on the card: {card_text(card)[:400]}")


async def incident_root(stack: Stack, number: int = 1) -> Message:
    """The thread root holding INC-<number>'s card, once Beacon posted it."""
    def find(record: Any) -> Message | None:
        for message in record.posted(CHANNEL_ID):
            if message.kind == "root" and any(f"INC-{number}" in card_text(c) for c in message.cards):
                return message
        return None

    return await stack.teams.wait_for(find, timeout=20)


async def declare(stack: Stack, title: str = "Payments API down", *, from_user: Person = Users.ALICE,
                  **form: Any) -> tuple[dict[str, Any], Message]:
    """Declare through the chat form: @Beacon declare, then submit the card. Returns the answer
    card and the incident's thread root."""
    before = len(stack.teams.posted())
    status, _ = await stack.send(channel_message(f"declare {title}", service_url=stack.url, from_user=from_user))
    assert status in (200, 201)
    form_message = (await stack.teams.wait_for_posts(before + 1))[-1]
    values = {"title": title, "impact": "high", "urgency": "high", "service": "payments-api", **form}

    def submit(data: dict[str, Any]) -> dict[str, Any]:
        return card_action_invoke("declare.submit", data, reply_to_id=form_message.id, service_url=stack.url,
                                  from_user=from_user,
                                  thread_root=form_message.conversation_id.partition(";messageid=")[2]
                                  or form_message.id)

    answer = await stack.invoke_card(submit(values))
    if '"declare.join"' in card_text(answer):  # a similar incident is open: this story wants a new one
        answer = await stack.invoke_card(submit({**values, "declareAnyway": True}))
    number = int(card_text(answer).split("INC-")[1].split(" ")[0])
    return answer, await incident_root(stack, number)


def _click(stack: Stack, root: Message, verb: str, from_user: Person, version: int | None,
           data: dict[str, Any]) -> dict[str, Any]:
    card = root.cards[0]
    incident_id = int(card_text(card).split('"incidentId": ')[1].split(",")[0])
    payload = {"incidentId": incident_id, "version": card_version(card) if version is None else version, **data}
    return card_action_invoke(verb, payload, reply_to_id=root.id, service_url=stack.url, from_user=from_user)


async def act(stack: Stack, root: Message, verb: str, *, from_user: Person = Users.ALICE,
              version: int | None = None, **data: Any) -> dict[str, Any]:
    """Click a button on the incident card as it currently shows in Teams."""
    return await stack.invoke_card(_click(stack, root, verb, from_user, version, data))


async def refused(stack: Stack, root: Message, verb: str, *, from_user: Person = Users.ALICE,
                  version: int | None = None, **data: Any) -> str:
    """Click a button Beacon should refuse; the error message Teams shows the clicker."""
    return await stack.invoke_refused(_click(stack, root, verb, from_user, version, data))


def dialog_button(card: dict[str, Any], verb: str) -> dict[str, Any]:
    """The data of the card's button that opens `verb`'s dialog (an Action.Submit with
    `msteams: {type: "task/fetch"}`), wherever it sits ("More…" or the primary row)."""
    def buttons(node: Any) -> Any:
        if isinstance(node, dict):
            data = node.get("data")
            if node.get("type") == "Action.Submit" and isinstance(data, dict) \
                    and (data.get("msteams") or {}).get("type") == "task/fetch":
                yield data
            for value in node.values():
                yield from buttons(value)
        elif isinstance(node, list):
            for value in node:
                yield from buttons(value)

    for data in buttons(card):
        if data.get("verb") == verb:
            return {k: v for k, v in data.items() if k != "msteams"}
    raise AssertionError(f"no {verb} dialog button on the card: {card_text(card)[:400]}")


def dialog_card(body: dict[str, Any]) -> dict[str, Any]:
    """The form a dialog answer shows (checked against the Adaptive Card schema)."""
    assert body["task"]["type"] == "continue", body
    card = body["task"]["value"]["card"]["content"]
    assert_valid_card(card)
    return card


def dialog_submit_data(card: dict[str, Any]) -> dict[str, Any]:
    [action] = [a for a in card.get("actions", []) if a["type"] == "Action.Submit"]
    return dict(action["data"])


async def open_dialog(stack: Stack, root: Message, verb: str, *, from_user: Person = Users.ALICE,
                      **override: Any) -> dict[str, Any]:
    """Press a form's button on the incident card as it shows now: Teams' task/fetch, Beacon's answer."""
    card = stack.teams.current(root.id)["attachments"][0]["content"]
    status, body = await stack.send(task_fetch({**dialog_button(card, verb), **override}, service_url=stack.url,
                                               reply_to_id=root.id, from_user=from_user))
    assert status == 200, (status, body)
    return body


async def submit_dialog(stack: Stack, root: Message, form: dict[str, Any], *, from_user: Person = Users.ALICE,
                        **values: Any) -> dict[str, Any]:
    """Fill in the dialog's form and press its button: Teams' task/submit, Beacon's answer."""
    status, body = await stack.send(task_submit({**dialog_submit_data(form), **values}, service_url=stack.url,
                                                reply_to_id=root.id, from_user=from_user))
    assert status == 200, (status, body)
    return body


async def in_dialog(stack: Stack, root: Message, verb: str, *, from_user: Person = Users.ALICE,
                    **values: Any) -> dict[str, Any]:
    """Open a form of the incident card in its dialog, fill it in and submit it: Beacon's last answer."""
    form = dialog_card(await open_dialog(stack, root, verb, from_user=from_user))
    return await submit_dialog(stack, root, form, from_user=from_user, **values)


async def eventually(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll a condition about a fake other than the connector (those do not notify)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.05)


async def settled(stack: Stack) -> None:
    await stack.beacon.settle()
