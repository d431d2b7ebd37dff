"""The on-call card (`@Beacon oncall`): who is on call now for each schedule, the next handoff in
the schedule's time zone and the reader's, the overrides with who made them, and the buttons to
add or remove one. Times are written out rather than left to the client's DATE()/TIME(), because
a handoff belongs to the schedule's clock and the reader asked in their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cards.elements import (
    Json,
    action_set,
    card,
    choice_set,
    container,
    execute,
    facts,
    input_text,
    open_dialog,
    people_picker,
    plain,
    submit,
    text,
)
from services.paging.oncall_view import ScheduleView, local_time
from services.verbs import Verb

TITLE = "Who is on call"
NO_SCHEDULES = "No on-call schedules are configured (oncall.schedules in the Beacon config)."


@dataclass(frozen=True)
class OncallCardView:
    schedules: list[ScheduleView]
    reader_zone: str = ""  # IANA zone from the asker's clientInfo; "" when Teams did not send one
    notice: str = ""  # what just changed ("Override saved: …"), shown first
    problem: bool = False  # the notice is an error


def both_clocks(moment: datetime | None, schedule_zone: str, reader_zone: str) -> str:
    """The schedule's clock, and the reader's when it differs."""
    if moment is None:
        return "—"
    shown = f"{local_time(moment, schedule_zone)} ({schedule_zone})"
    if reader_zone and reader_zone != schedule_zone:
        shown += f" · {local_time(moment, reader_zone)} your time ({reader_zone})"
    return shown


def _schedule(view: ScheduleView, reader_zone: str) -> Json:
    now = (f"{plain(view.person)}" + (" (override)" if view.source == "override" else "")) if view.person \
        else "Nobody"
    rows = [("On call now", now), ("Until", both_clocks(view.until, view.time_zone, reader_zone))]
    if view.next_person:
        rows.append(("Next", f"{plain(view.next_person)} from "
                             f"{both_clocks(view.next_at, view.time_zone, reader_zone)}"))
    items: list[Json] = [text(plain(view.name), weight="Bolder", size="Medium"), facts(rows)]
    for line in view.overrides:
        items.append(text(f"Override: {plain(line.person)} from {both_clocks(line.starts_at, view.time_zone, '')} "
                          f"until {both_clocks(line.ends_at, view.time_zone, reader_zone)}, set by "
                          f"{plain(line.created_by)}", size="Small", wrap=True))
        items.append(action_set([execute(f"Remove {line.person}'s override", Verb.ONCALL_OVERRIDE_CLEAR,
                                         {"schedule": view.name, "overrideId": line.id})]))
    return container(items, style="emphasis")


def oncall_card(view: OncallCardView) -> Json:
    body: list[Json] = [text(TITLE, size="Large", weight="Bolder")]
    if view.notice:
        body.append(text(plain(view.notice), color="attention" if view.problem else "good", weight="Bolder"))
    if not view.schedules:
        body.append(text(NO_SCHEDULES, subtle=True))
        return card(body)
    body += [_schedule(s, view.reader_zone) for s in view.schedules]
    if not view.reader_zone:
        body.append(text("Times are in each schedule's time zone.", subtle=True, size="Small"))
    return card(body, [open_dialog("Override", Verb.ONCALL_OVERRIDE_FORM),
                       execute("Refresh", Verb.ONCALL_SHOW)])


FORM_TITLE = "Override who is on call"


@dataclass(frozen=True)
class OverrideFormView:
    schedules: list[tuple[str, str]]  # (name, time zone)
    people: list[tuple[str, str]]  # (name, directory key) the picker offers
    values: dict[str, str] = field(default_factory=dict)  # schedule, person, until as typed
    problems: dict[str, str] = field(default_factory=dict)  # field -> what is wrong with it


def _problem(view: OverrideFormView, key: str) -> list[Json]:
    message = view.problems.get(key)
    return [text(plain(message), color="attention", size="Small", spacing="None")] if message else []


def override_form(view: OverrideFormView, *, dialog: bool) -> Json:
    """Someone covers a schedule from now until a time on the schedule's clock. Shown again after
    a mistake with every value as given and the problem under its field."""
    zones = "; ".join(f"{name}: {zone}" for name, zone in view.schedules)
    body: list[Json] = [
        text(FORM_TITLE, size="Medium", weight="Bolder"),
        text("The person is on call from now until the time you give, then the rotation resumes. "
             "Everyone can see who set it.", subtle=True),
        choice_set("schedule", "Schedule", [(name, name) for name, _ in view.schedules],
                   value=view.values.get("schedule", "")), *_problem(view, "schedule"),
        people_picker("person", "Who covers it", dialog=dialog, value=view.values.get("person", ""),
                      known=view.people),
        *_problem(view, "person"),
        input_text("until", "Until (the schedule's local time)", value=view.values.get("until", ""),
                   placeholder="2026-12-07 09:00, tomorrow 09:00 or 18:00", max_length=40),
        *_problem(view, "until"),
        text(plain(f"Time zones: {zones}"), subtle=True, size="Small"),
    ]
    if dialog:
        return card(body, [submit("Save override", Verb.ONCALL_OVERRIDE, style="positive")])
    return card(body, [execute("Save override", Verb.ONCALL_OVERRIDE, style="positive", inputs="auto")])
