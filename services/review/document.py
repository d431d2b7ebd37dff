"""The report's content as simple blocks (headings, paragraphs, tables), so Markdown, HTML and
PDF show the same sections in the same order."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.durations import span
from services.review.report import APPENDICES, NOT_YET, SECTIONS, Communication, Report, stamp


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class Chart:
    """Where the timeline chart goes (HTML and PDF draw it; Markdown links the HTML)."""


Block = Heading | Paragraph | Table | Chart


FORM_NAMES = {"html": "web page", "md": "Markdown", "pdf": "PDF"}


def other_forms(report: Report, current: str) -> list[tuple[str, str]]:
    """(name, link) of the report's other forms, for a line under its title."""
    return [(FORM_NAMES[fmt], url) for fmt, url in report.forms.items() if fmt != current and fmt in FORM_NAMES]


def _or_not_yet(value: str) -> str:
    return value.strip() or NOT_YET


def _sentence(value: str) -> str:
    value = value.strip()
    return value if value.endswith((".", "!", "?")) else value + "."


def _after(r: Report, moment: datetime) -> str:
    return span(r.since_impact(moment))


def _executive(r: Report) -> list[Block]:
    """What an executive reads first: what happened, to whom, for how long, why and what now."""
    i = r.incident
    who = f" for {i.client}" if i.client else ""
    what = f"{i.service}{who}" if i.service else f"the service{who}"
    if r.resolved_at:
        window = (f"From {stamp(r.impact_started_at)} to {stamp(r.resolved_at)} ({span(r.duration)}), "
                  f"{what} was affected: {i.title}.")
    else:
        window = f"Since {stamp(r.impact_started_at)}, {what} has been affected: {i.title}. It is not resolved yet."
    first = next((str((e.after or {}).get("priority")) for e in r.timeline if e.kind == "declared"), i.priority)
    declared = f"declared {first}, " if first != i.priority else ""
    rating = f"Priority {declared}{i.priority} at the end ({i.impact.value} impact, {i.urgency.value} urgency)."
    fixed = f" What fixed it: {_sentence(i.resolution_summary)}" if i.resolution_summary else ""
    cause = f"Root cause: {_sentence(r.answers.root_cause) if r.answers.root_cause.strip() else NOT_YET}"
    open_actions = sum(1 for a in r.actions if a.status != "done")
    follow = (f"{len(r.actions)} follow-up action{'s' if len(r.actions) != 1 else ''} to prevent a recurrence, "
              f"{open_actions} still open." if r.actions else "No follow-up actions recorded yet.")
    return [Paragraph(f"{window} {rating}{fixed}"), Paragraph(cause), Paragraph(follow),
            Heading("Response effectiveness", 3), Paragraph(_effectiveness(r))]


def _effectiveness(r: Report) -> str:
    """Time to acknowledge, mitigate and resolve, counted from when the impact started, and how
    punctual the status updates were."""
    i = r.incident
    started = "when the impact started" if i.impact_started_at else "the declaration (no impact start was given)"
    parts = [f"Counted from {started}, {stamp(r.impact_started_at)}:"]
    if i.impact_started_at:
        parts.append(f"declared after {_after(r, r.detected_at)};")
    steps = [("acknowledged", i.acknowledged_at), ("mitigated", r.mitigated_at), ("resolved", r.resolved_at)]
    parts.append("; ".join(f"{name} after {_after(r, at)}" if at else f"not {name}" for name, at in steps) + ".")
    u = r.updates
    written = u["on_time"] + u["late"]
    if written:
        late = f", {u['late']} late" if u["late"] else ""
        parts.append(f"Status updates: {written} written, {u['on_time']} on time{late}.")
    if u["automatic"]:
        parts.append(f"Beacon posted {u['automatic']} automatic update{'s' if u['automatic'] > 1 else ''} "
                     "when one was due and none was written.")
    if not written and not u["automatic"]:
        parts.append("No status updates were posted.")
    return " ".join(parts)


def _overview(r: Report) -> list[Block]:
    i = r.incident
    rows = [("Incident", i.label), ("Title", i.title), ("Description", i.description or "—"),
            ("Impact started", stamp(i.impact_started_at) if i.impact_started_at else "not given (the declaration)"),
            ("Detected (declared)", stamp(r.detected_at)), ("Resolved", stamp(r.resolved_at)),
            ("Duration of impact", span(r.duration)), ("Status", i.status.value),
            ("Commander", i.commander.name if i.commander else "—"),
            ("Declared by", i.declared_by.name or "—"), ("Source", i.source)]
    if i.drill:
        rows.insert(0, ("Drill", "yes: a training incident"))
    return [Table(("", ""), rows)]


def _impact(r: Report) -> list[Block]:
    i = r.incident
    declared = next((e.after or {} for e in r.timeline if e.kind == "declared"), {})
    blocks: list[Block] = [Table(("", ""), [
        ("Priority at declaration", str(declared.get("priority", i.priority))),
        ("Priority at the end", i.priority),
        ("Impact", i.impact.value), ("Urgency", i.urgency.value),
        ("Affected service", i.service or "—"), ("Affected client", i.client or "none (internal)")])]
    if r.priority_changes:
        blocks.append(Paragraph("Priority changes:"))
        blocks.append(Table(("Time", "By", "Change"), [
            (stamp(e.at), e.actor.name if e.actor else "Beacon",
             f"{(e.before or {}).get('priority')} → {(e.after or {}).get('priority')} "
             f"(impact {(e.after or {}).get('impact')}, urgency {(e.after or {}).get('urgency')})")
            for e in r.priority_changes]))
    else:
        blocks.append(Paragraph("The priority did not change."))
    blocks.append(Paragraph("Time spent in each status:"))
    blocks.append(Table(("Status", "Time"), [(s, span(d)) for s, d in r.status_times]))
    if r.answers.impact_narrative:
        blocks.append(Paragraph(r.answers.impact_narrative))
    return blocks


def _timeline(r: Report) -> list[Block]:
    return [Chart(), Table(("Time", "Actor", "Event"), [
        (stamp(e.at), e.actor.name if e.actor and e.actor.name else "Beacon", e.summary)
        for e in r.response_events])]


def _actions(r: Report) -> list[Block]:
    fixed = r.incident.resolution_summary or "—"
    blocks: list[Block] = [Paragraph(f"What fixed it: {fixed}")]
    if r.actions:
        blocks.append(Paragraph("Follow-up actions to prevent recurrence:"))
        blocks.append(Table(("Action", "Owner", "Due", "Status"), [
            (a.title, a.owner, a.due_at.strftime("%Y-%m-%d"),
             f"done {stamp(a.completed_at)}" if a.status == "done" else a.status) for a in r.actions]))
    else:
        blocks.append(Paragraph("Follow-up actions: " + ("none" if r.answers.completed_at else NOT_YET)))
    return blocks


def _events_table(r: Report, *prefixes: str) -> Block:
    events = r.events_of(*prefixes)
    if not events:
        return Paragraph("None recorded.")
    return Table(("Time", "Record"), [(stamp(e.at), e.summary) for e in events])


_WHAT = {"email.send": "Email", "sms.send": "SMS", "page.email": "Page by email", "page.sms": "Page by SMS",
         "page.voice": "Page by phone call", "page.voice.cancel": "Page call stopped", "page.teams": "Page in Teams",
         "teams.post_card": "Incident card", "teams.update_card": "Incident card refresh",
         "teams.thread_card": "Thread card", "teams.thread_note": "Thread message",
         "teams.thread_mention": "Thread mention", "teams.stakeholder_post": "Stakeholder channel post",
         "teams.resolve_people": "Name lookup", "bridge.create": "Bridge meeting",
         "bridge.invite": "Bridge invitation", "bridge.ring": "Bridge call", "bridge.thread_card": "Bridge card",
         "freshdesk.create": "Freshdesk ticket", "freshdesk.note": "Freshdesk note",
         "freshdesk.update": "Freshdesk update", "intake.report_card": "Intake card",
         "review.create_event": "Review meeting", "review.thread_card": "Review card"}


def _outcome(c: Communication) -> str:
    if c.status == "sent":
        return "sent"
    if c.status == "skipped":
        return c.error or "not sent"
    if c.status == "failed":  # the error's text without its Python class name
        return f"failed: {re.sub(r'^[A-Za-z]+Error: ', '', c.error)}" if c.error else "failed"
    return "pending"


def _deliveries(r: Report) -> Block:
    """Every message and delivery in one table: alike ones (same kind, recipients and outcome)
    share a row with their count and first time, so a reader sees what reached whom."""
    grouped: dict[tuple[str, str, str], list[Communication]] = {}
    for c in r.communications:
        grouped.setdefault((_WHAT.get(c.kind, c.kind), c.recipients, _outcome(c)), []).append(c)
    if not grouped:
        return Paragraph("None recorded.")
    return Table(("First", "What", "To", "Outcome", "Count"), [
        (stamp(items[0].queued_at), what, to, outcome, str(len(items)))
        for (what, to, outcome), items in grouped.items()])


def _appendices(r: Report) -> list[Block]:
    return [Heading(APPENDICES[0], 3), _events_table(r, "alert"),
            Heading(APPENDICES[1], 3), _deliveries(r),
            Heading(APPENDICES[2], 3), _events_table(r, "bridge", "call"),
            Heading(APPENDICES[3], 3), _events_table(r, "ticket", "freshdesk")]


def blocks(report: Report) -> list[Block]:
    """Every section of the report, in the seed's order."""
    parts: list[list[Block]] = [
        _executive(report), _overview(report), _impact(report), [Paragraph(_or_not_yet(report.answers.root_cause))],
        _timeline(report), _actions(report), [Paragraph(_or_not_yet(report.answers.lessons))], _appendices(report)]
    result: list[Block] = []
    for title, content in zip(SECTIONS, parts, strict=True):
        result.append(Heading(title))
        result += content
    return result
