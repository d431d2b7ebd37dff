"""The post-incident report form: in a dialog (Action.Submit, task/submit) or, for cards posted
before dialogs, as a card (Action.Execute). Shown again after a mistake with every value as typed
and each field's problem right beneath it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cards.elements import Json, card, container, execute, input_text, people_picker, plain, submit, text
from services.incidents.model import MAX_TEXT
from services.review.form import ACTION_TITLE_LIMIT, MAX_ACTION_ROWS, ReportDraft
from services.verbs import Verb

FORM_TITLE = "Post-incident report"


@dataclass(frozen=True)
class ReportFormView:
    label: str  # INC-7
    title: str  # the incident's title
    incident_id: int
    draft: ReportDraft = field(default_factory=ReportDraft)
    problems: Mapping[str, str] = field(default_factory=dict)
    people: list[tuple[str, str]] = field(default_factory=list)  # (name, Entra id) the picker offers first


def _problem(view: ReportFormView, key: str) -> list[Json]:
    message = view.problems.get(key)
    return [text(plain(message), color="attention", size="Small", spacing="None")] if message else []


def _date(id_: str, title: str, value: str) -> Json:
    block: Json = {"type": "Input.Date", "id": id_, "label": title}
    if len(value) == 10 and value[4] == "-" and value[7] == "-":  # Input.Date only takes YYYY-MM-DD
        block["value"] = value
    return block


def _action_rows(view: ReportFormView, dialog: bool) -> list[Json]:
    rows: list[Json] = []
    for index, action in enumerate(view.draft.actions or ReportDraft.from_values({}).actions, start=1):
        key = f"action{index}"
        rows.append(container([
            input_text(f"{key}_title", f"Action {index}", value=action.title, max_length=ACTION_TITLE_LIMIT,
                       placeholder="What will prevent a recurrence?"),
            *_problem(view, f"{key}_title"),
            people_picker(f"{key}_owner", "Owner", dialog=dialog, value=action.owner, known=view.people),
            *_problem(view, f"{key}_owner"),
            _date(f"{key}_due", "Due date", action.due),
            *_problem(view, f"{key}_due")], style="emphasis"))
    return rows


def report_form(view: ReportFormView, *, dialog: bool) -> Json:
    """Required fields are checked by Beacon, not the client: a client-side check would also stop
    "Add an action" until the whole form is filled in."""
    d = view.draft
    body: list[Json] = [text(f"{FORM_TITLE}: {view.label}", size="Medium", weight="Bolder"),
                        text(plain(view.title), subtle=True, spacing="None")]
    if view.problems:
        count = len(view.problems)
        body.append(text(f"{count} field{'s' if count > 1 else ''} need{'' if count > 1 else 's'} attention; "
                         "everything you typed is kept.", color="attention", weight="Bolder"))
    body += [text("Beacon builds the report from the timeline; add what only people know.", subtle=True),
             input_text("root_cause", "Root cause (required)", value=d.root_cause, multiline=True,
                        max_length=MAX_TEXT), *_problem(view, "root_cause"),
             input_text("impact", "Impact narrative (optional)", value=d.impact, multiline=True,
                        max_length=MAX_TEXT), *_problem(view, "impact"),
             input_text("lessons", "Lessons learned (required)", value=d.lessons, multiline=True,
                        max_length=MAX_TEXT), *_problem(view, "lessons"),
             text("Corrective actions (each with an owner and a due date)", weight="Bolder"),
             *_action_rows(view, dialog)]
    rows = max(1, len(d.actions))
    data = {"incidentId": view.incident_id, "rows": rows}
    actions = [_button("Submit report", Verb.REVIEW_REPORT_SUBMIT, data, dialog, style="positive")]
    if rows < MAX_ACTION_ROWS:
        actions.append(_button("Add an action", Verb.REVIEW_REPORT_ADD_ROW, data, dialog))
    return card(body, actions)


def _button(title: str, verb: Verb, data: Json, dialog: bool, style: str | None = None) -> Json:
    """Dialogs submit with Action.Submit; a card in a chat with Action.Execute and all its inputs."""
    if dialog:
        return submit(title, verb, data, style=style)
    return execute(title, verb, data, style=style, inputs="auto")
