"""The `oncall:` section of BEACON_CONFIG: schedules, escalation policies and the priorities a
person's declaration pages at. Validated with the rest of the file on start and by `app.py doctor`;
a person, schedule or policy that does not exist is named by its key
(`oncall.schedules[0].people[1]: 'nobody@contoso.com' is not in the directory`), because a paging
set-up that fails at 03:00 is worse than one that refuses to start."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from services.durations import Duration

Method = Literal["teams", "sms", "voice", "email"]
METHODS: tuple[Method, ...] = ("teams", "sms", "voice", "email")
TARGET_KINDS = ("schedule", "person", "team")


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/London") from None
    return value


def _handoff(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):  # YAML reads an unquoted 09:00 as 540 (sexagesimal minutes)
        value = f"{value // 60:02d}:{value % 60:02d}"
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a local time such as \"09:00\"")
    return time(int(match[1]), int(match[2]))


def _target(value: str) -> str:
    kind, _, name = str(value).partition(":")
    if kind not in TARGET_KINDS or not name.strip():
        raise ValueError(f"{value!r} must be schedule:<name>, person:<email or aad id> or team:<directory team>")
    return f"{kind}:{name.strip()}"




class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleEntry(_Strict):
    name: str
    time_zone: Annotated[str, AfterValidator(_time_zone)] = "UTC"
    shift: Duration = timedelta(weeks=1)  # how long each person's turn lasts, in local wall time
    handoff: Annotated[time, BeforeValidator(_handoff)] = time(9, 0)
    start: date = date(2026, 1, 5)  # the first turn starts this day at `handoff`, with people[0]
    people: list[str] = []  # directory people, by email or aad_object_id
    ical_url: str = ""  # an iCalendar feed of shifts; `people` rotate while no copy of it exists


class EscalationLevel(_Strict):
    notify: list[Annotated[str, AfterValidator(_target)]] = Field(min_length=1)
    methods: list[Method] = Field(default_factory=lambda: ["teams", "sms"], min_length=1)
    after: Duration = timedelta(minutes=5)  # the next level pages when nobody acknowledged by then


class EscalationPolicy(_Strict):
    name: str
    levels: list[EscalationLevel] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=20)  # after the last level, start over this often
    # Whether posting any change to the incident counts as acknowledging its page.
    any_change_acknowledges: bool = False


class OncallConfig(_Strict):
    schedules: list[ScheduleEntry] = []
    escalation_policies: list[EscalationPolicy] = []
    page_priorities: list[str] = []  # incidents declared by a person at these priorities page too

    def schedule(self, name: str) -> ScheduleEntry | None:
        return next((s for s in self.schedules if s.name == name), None)

    def policy(self, name: str) -> EscalationPolicy | None:
        return next((p for p in self.escalation_policies if p.name == name), None)


def oncall_problems(oncall: OncallConfig, people: Iterable[str], teams: Iterable[str], priorities: Iterable[str],
                    services: Iterable[tuple[str, str]]) -> list[str]:
    """Every reference that names nothing: `people` are the directory's emails and aad ids (lower
    case), `services` (name, escalation_policy) pairs. Each message starts with its key."""
    known_people, known_teams = set(people), set(teams)
    problems = _duplicates("oncall.schedules", [s.name for s in oncall.schedules])
    problems += _duplicates("oncall.escalation_policies", [p.name for p in oncall.escalation_policies])
    for i, schedule in enumerate(oncall.schedules):
        if not schedule.people and not schedule.ical_url:
            problems.append(f"oncall.schedules[{i}]: give people (a rotation) or ical_url (a feed of shifts)")
        for j, person in enumerate(schedule.people):
            if person.lower() not in known_people:
                problems.append(f"oncall.schedules[{i}].people[{j}]: {person!r} is not in the directory")
    schedules = {s.name for s in oncall.schedules}
    for i, policy in enumerate(oncall.escalation_policies):
        for j, level in enumerate(policy.levels):
            for k, target in enumerate(level.notify):
                kind, _, name = target.partition(":")
                missing = ((kind == "schedule" and name not in schedules) or (kind == "team" and name not in known_teams)
                           or (kind == "person" and name.lower() not in known_people))
                if missing:
                    where = {"schedule": "oncall.schedules", "team": "directory.teams", "person": "the directory"}[kind]
                    problems.append(f"oncall.escalation_policies[{i}].levels[{j}].notify[{k}]: "
                                    f"{name!r} is not in {where}")
    known_priorities = set(priorities)
    for i, priority in enumerate(oncall.page_priorities):
        if priority not in known_priorities:
            problems.append(f"oncall.page_priorities[{i}]: {priority!r} is not a priority of priority_matrix")
    policies = {p.name for p in oncall.escalation_policies}
    for i, (_, policy_name) in enumerate(services):
        if policy_name and policy_name not in policies:
            problems.append(f"services[{i}].escalation_policy: {policy_name!r} is not in oncall.escalation_policies")
    return problems


def _duplicates(key: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"{key}[{i}].name: {name!r} is used twice")
        seen.add(name)
    return problems
