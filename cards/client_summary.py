"""The customer summary for the report owner: the draft as the client will read it, with
"Approve & send" and "Edit" (a dialog: forms in dialogs keep what was typed on mobile clients)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cards.elements import (
    Json,
    card,
    container,
    execute,
    input_text,
    mention,
    open_dialog,
    plain,
    submit,
    text,
    when,
)
from services.review.client_summary import FIELD_LIMIT, FIELDS
from services.verbs import Verb

EDIT_TITLE = "Customer summary"


@dataclass(frozen=True)
class ClientSummaryView:
    label: str
    title: str
    incident_id: int
    client: str
    owner_name: str
    owner_id: str
    values: dict[str, str]  # by field name (services.review.client_summary.FIELDS)
    recipients: list[tuple[str, str]]  # (email, name)
    revision: int
    sent_by: str = ""
    sent_at: datetime | None = None
    notice: str = ""
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Json:
        return {"incidentId": self.incident_id, "revision": self.revision}


def _sections(view: ClientSummaryView) -> list[Json]:
    blocks: list[Json] = []
    for name, heading in FIELDS:
        blocks += [text(heading, weight="Bolder", spacing="Medium"),
                   text(plain(view.values.get(name, "")), spacing="None")]
    return blocks


def _to(view: ClientSummaryView) -> str:
    return ", ".join(plain(f"{name} ({email})" if name else email) for email, name in view.recipients)


def client_summary_card(view: ClientSummaryView) -> Json:
    """In the incident thread, for the report owner (others read it; the policy lets only the
    owner or an incident admin approve or edit)."""
    client = plain(view.client) or "the client"
    body: list[Json] = []
    if view.notice:
        body.append(text(plain(view.notice), color="good" if view.sent_at else "attention"))
    if view.sent_at is not None:
        heading = f"Customer summary of {view.label} sent to {client}"
        approver = plain(view.sent_by) or "the report owner"
        status = f"Approved by {approver} and sent {when(view.sent_at)} to {_to(view)}."
        return card([*body, container([text(heading, weight="Bolder"), text(plain(view.title), spacing="None")],
                                      style="good"), text(status, subtle=True), *_sections(view)])
    mentions: list[Json] = []
    who = plain(view.owner_name) or "the report owner"
    if view.owner_id:
        who, entity = mention(view.owner_name or "report owner", view.owner_id)
        mentions.append(entity)
    body += [container([text(f"Customer summary of {view.label} for {client}: waiting for approval",
                             weight="Bolder"), text(plain(view.title), spacing="None")], style="warning"),
             text(f"{who}, this is what {client}'s contacts will read instead of the internal report. "
                  f"Nothing is sent until you approve it.", wrap=True),
             text(f"To: {_to(view)}", subtle=True), *_sections(view)]
    actions = [execute("Approve & send", Verb.REVIEW_CLIENT_APPROVE, view.data, style="positive"),
               open_dialog("Edit", Verb.REVIEW_CLIENT_EDIT, view.data)]
    return card(body, actions, mentions=mentions)


def client_summary_form(view: ClientSummaryView) -> Json:
    """The edit dialog: every section as the draft has it (or as typed, with its problem)."""
    body: list[Json] = [text(f"{EDIT_TITLE}: {view.label}", size="Medium", weight="Bolder"),
                        text(f"What {plain(view.client) or 'the client'}'s contacts will read. Write for "
                             "someone outside the team: no internal names or guesses.", subtle=True)]
    for name, heading in FIELDS:
        body.append(input_text(name, heading, value=view.values.get(name, ""), multiline=True,
                               max_length=FIELD_LIMIT))
        if name in view.problems:
            body.append(text(plain(view.problems[name]), color="attention", spacing="None"))
    return card(body, [submit("Save", Verb.REVIEW_CLIENT_SAVE, view.data)])


def client_summary_preview(view: ClientSummaryView) -> Json:
    """The dialog after a save: the summary as saved, to approve there or on the card."""
    return card([text(f"Saved. {EDIT_TITLE} of {view.label}, as {plain(view.client) or 'the client'} will "
                      f"read it:", weight="Bolder"), text(f"To: {_to(view)}", subtle=True), *_sections(view)],
                [submit("Approve & send", Verb.REVIEW_CLIENT_APPROVE, view.data, style="positive"),
                 submit("Edit", Verb.REVIEW_CLIENT_EDIT, view.data)])
