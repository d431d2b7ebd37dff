"""The report's content as simple blocks (headings, paragraphs, tables), so Markdown, HTML and
PDF show the same sections in the same order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.review.report import APPENDICES, NOT_YET, SECTIONS, Report, human, stamp


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


def _or_not_yet(value: str) -> str:
    return value.strip() or NOT_YET


def _overview(r: Report) -> list[Block]:
    i = r.incident
    rows = [("Incident", i.label), ("Title", i.title), ("Description", i.description or "—"),
            ("Detected (declared)", stamp(r.detected_at)), ("Resolved", stamp(r.resolved_at)),
            ("Duration", human(r.duration)), ("Status", i.status.value),
            ("Commander", i.commander.name if i.commander else "—"),
            ("Declared by", i.declared_by.name or "—"), ("Source", i.source),
            ("Process version", r.config_version or "—")]
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
    blocks.append(Table(("Status", "Time"), [(s, human(d)) for s, d in r.status_times]))
    if r.answers.impact_narrative:
        blocks.append(Paragraph(r.answers.impact_narrative))
    return blocks


def _timeline(r: Report) -> list[Block]:
    return [Chart(), Table(("Time", "Actor", "Event"), [
        (stamp(e.at), e.actor.name if e.actor and e.actor.name else "Beacon", e.summary)
        for e in r.timeline])]


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


def _appendices(r: Report) -> list[Block]:
    comms: Block = Table(("Queued", "Kind", "Recipients", "Status", "Done"), [
        (stamp(c.queued_at), c.kind, c.recipients, c.status, stamp(c.done_at)) for c in r.communications
    ]) if r.communications else Paragraph("None recorded.")
    return [Heading(APPENDICES[0], 3), _events_table(r, "alert"),
            Heading(APPENDICES[1], 3), comms,
            Heading(APPENDICES[2], 3), _events_table(r, "bridge", "call"),
            Heading(APPENDICES[3], 3), _events_table(r, "ticket", "freshdesk")]


def blocks(report: Report) -> list[Block]:
    """Every section of the report, in the seed's order."""
    parts: list[list[Block]] = [_overview(report), _impact(report), [Paragraph(_or_not_yet(report.answers.root_cause))],
             _timeline(report), _actions(report), [Paragraph(_or_not_yet(report.answers.lessons))],
             _appendices(report)]
    result: list[Block] = []
    for title, content in zip(SECTIONS, parts, strict=True):
        result.append(Heading(title))
        result += content
    return result
