"""The post-incident report form as data: what the owner typed, checked field by field.

A mistake in one field must never cost the others: the draft keeps every value exactly as typed,
and `problems` names each field that needs attention with its own message, so the form can be
shown again with everything in place and the error beside the field it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from services.incidents import DomainError
from services.incidents.model import MAX_TEXT

MAX_ACTION_ROWS = 20  # the form stays well inside the size Teams accepts for a card or dialog
ACTION_TITLE_LIMIT = 300
_ROW_KEY = re.compile(r"^action(\d+)_(title|owner|due)$")


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


@dataclass(frozen=True)
class ActionDraft:
    title: str = ""
    owner: str = ""  # an Entra object id from the people picker
    due: str = ""  # YYYY-MM-DD from the date input

    @property
    def empty(self) -> bool:
        return not (self.title.strip() or self.owner.strip() or self.due.strip())


@dataclass(frozen=True)
class ReportDraft:
    root_cause: str = ""
    impact: str = ""
    lessons: str = ""
    actions: tuple[ActionDraft, ...] = ()

    @classmethod
    def from_values(cls, data: Mapping[str, Any]) -> ReportDraft:
        """Every value as typed; as many action rows as the form had (its `rows`, or the highest
        numbered row that came back), at least one."""
        numbers = [int(m.group(1)) for key in data if (m := _ROW_KEY.match(str(key)))]
        try:
            shown = int(str(data.get("rows") or 0))
        except ValueError:
            shown = 0
        rows = min(MAX_ACTION_ROWS, max([1, shown, *numbers]))
        actions = tuple(ActionDraft(_text(data.get(f"action{i}_title")), _text(data.get(f"action{i}_owner")),
                                    _text(data.get(f"action{i}_due"))) for i in range(1, rows + 1))
        return cls(_text(data.get("root_cause")), _text(data.get("impact")), _text(data.get("lessons")), actions)

    def with_row(self) -> ReportDraft:
        if len(self.actions) >= MAX_ACTION_ROWS:
            return self
        return ReportDraft(self.root_cause, self.impact, self.lessons, (*self.actions, ActionDraft()))

    def filled_actions(self) -> list[tuple[int, ActionDraft]]:
        return [(i, a) for i, a in enumerate(self.actions, start=1) if not a.empty]


@dataclass(frozen=True)
class CheckedAction:
    title: str
    owner: str
    due_at: datetime


@dataclass(frozen=True)
class CheckedReport:
    root_cause: str
    impact: str
    lessons: str
    actions: list[CheckedAction] = field(default_factory=list)


class ReportIncomplete(DomainError):
    """The form has fields that need attention; `problems` maps each input id to its message."""

    def __init__(self, draft: ReportDraft, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.draft, self.problems = draft, problems


def _due(value: str, today: date) -> tuple[datetime | None, str]:
    try:
        day = datetime.strptime(value.strip()[:10], "%Y-%m-%d").date()
    except ValueError:
        return None, "Choose a due date, such as 2026-02-01."
    if day < today:
        return None, "The due date is in the past."
    return datetime.combine(day, time(9, 0), tzinfo=UTC), ""


def _required(value: str, what: str, problems: dict[str, str], key: str, limit: int) -> str:
    text = value.strip()
    if not text:
        problems[key] = f"{what} is required."
    elif len(text) > limit:
        problems[key] = f"{what} is longer than {limit} characters ({len(text)})."
    return text


def check(draft: ReportDraft, today: date) -> CheckedReport:
    """The answers, or ReportIncomplete naming every field that needs attention (not just the first)."""
    problems: dict[str, str] = {}
    root_cause = _required(draft.root_cause, "The root cause", problems, "root_cause", MAX_TEXT)
    lessons = _required(draft.lessons, "Lessons learned", problems, "lessons", MAX_TEXT)
    impact = draft.impact.strip()
    if len(impact) > MAX_TEXT:
        problems["impact"] = f"The impact narrative is longer than {MAX_TEXT} characters ({len(impact)})."
    actions = []
    for index, row in draft.filled_actions():
        title = _required(row.title, "The action", problems, f"action{index}_title", ACTION_TITLE_LIMIT)
        owner = row.owner.strip()
        if not owner:
            problems[f"action{index}_owner"] = "Choose who owns this action."
        due, why = _due(row.due, today)
        if why:
            problems[f"action{index}_due"] = why
        if title and owner and due:
            actions.append(CheckedAction(title, owner, due))
    if problems:
        raise ReportIncomplete(draft, problems)
    return CheckedReport(root_cause, impact, lessons, actions)
