"""Escalation: who an incident pages, level by level, on Beacon's durable timers.

An alert for a service with an escalation policy, or an incident a person declares at one of
`oncall.page_priorities`, pages the policy's first level in the transaction that stores it (the
pages go out as soon as it commits) and arms one timer of kind "escalation" whose sequence is the
next step to page. When it falls due with nobody having acknowledged, the scheduler (which claims
timers with a lock other replicas skip, and moves each with a guarded UPDATE) pages that step and
moves the timer on, in one transaction: each step pages exactly once across restarts and replicas.
After the last level the policy starts over `repeat` times; then the incident thread says nobody
acknowledged and mentions the team. Acknowledging or resolving drops the timer.

A drill pages only its declarer, marked DRILL, and never escalates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.config import BeaconConfig
from services.effects import OutboxEffect
from services.effects.teams import ThreadMention
from services.incidents import Incident, TimelineEvent
from services.paging.config import EscalationLevel, EscalationPolicy
from services.paging.directory import FeedShifts, Pager, find_person, level_targets, no_feeds
from services.paging.effects import PAGE_TYPES
from services.paging.shifts import Override

ESCALATION = "escalation"  # the timer kind
SYSTEM_ACTOR = "beacon"  # services.lifecycle.SYSTEM_ACTOR: incidents Beacon declared from alerts


def declared_by_alert(incident: Incident) -> bool:
    return incident.declared_by.aad_object_id == SYSTEM_ACTOR


def policy_for(incident: Incident, config: BeaconConfig) -> EscalationPolicy | None:
    """The policy that pages for this incident, or None when it pages nobody."""
    service = config.service(incident.service) if incident.service else None
    if service is None or not service.escalation_policy:
        return None
    if not declared_by_alert(incident) and incident.priority not in config.oncall.page_priorities:
        return None
    return config.oncall.policy(service.escalation_policy)


def total_steps(policy: EscalationPolicy) -> int:
    return len(policy.levels) * (policy.repeat + 1)


def level_and_round(policy: EscalationPolicy, step: int) -> tuple[int, int]:
    """1-based level and round of a 0-based step."""
    return step % len(policy.levels) + 1, step // len(policy.levels) + 1


@dataclass
class StepPlan:
    """What paging one step writes: its effects and timeline entries, and when the next step is due."""

    effects: list[OutboxEffect] = field(default_factory=list)
    events: list[TimelineEvent] = field(default_factory=list)
    next_due: datetime | None = None


def page_text(incident: Incident) -> str:
    return f"{incident.label} {incident.priority}: {incident.title}"


def page_effects(incident: Incident, people: Sequence[Pager], methods: Sequence[str], level: int,
                 round_: int, *, text: str = "") -> tuple[list[OutboxEffect], list[str]]:
    """One page per person and method; what a person lacks for a method is said, not skipped silently.
    `text` replaces the usual line (a page by hand says who paged and why)."""
    assert incident.id is not None
    effects: list[OutboxEffect] = []
    missing: list[str] = []
    for person in people:
        for method in methods:
            page_type = PAGE_TYPES[method]
            address = {"teams": person.aad_object_id, "sms": person.phone, "voice": person.phone,
                       "email": person.email}[method]
            if not address:
                what = {"teams": "Teams id (aad_object_id)", "email": "email address"}.get(method, "phone number")
                missing.append(f"no {what} for {person.name or person.key} ({method})")
                continue
            field_name = {"teams": "aad_object_id", "sms": "phone", "voice": "phone", "email": "email"}[method]
            effects.append(page_type(incident.id, level, round_, person.key, person.name, text or page_text(incident),
                                     f"{method} page to {person.name or person.key}", **{field_name: address}))
    return effects, missing


def plan_step(incident: Incident, policy: EscalationPolicy, step: int, config: BeaconConfig, now: datetime,
              overrides: Sequence[Override], feeds: FeedShifts = no_feeds) -> StepPlan:
    """Page one step of the policy; a step that reaches nobody lets the next one fire at once."""
    level_no, round_ = level_and_round(policy, step)
    level: EscalationLevel = policy.levels[level_no - 1]
    reached = level_targets(config, level, now, overrides, feeds)
    effects, missing = page_effects(incident, reached.people, level.methods, level_no, round_)
    names = ", ".join(p.name or p.key for p in reached.people)
    where = f"level {level_no} of {policy.name}" + (f", round {round_}" if round_ > 1 else "")
    notes = "; ".join([*reached.gaps, *missing])
    summary = (f"paged {names} by {', '.join(level.methods)} ({where})" if reached.people
               else f"{where} reaches nobody")
    event = TimelineEvent("paged", now, None, summary + (f": {notes}" if notes else ""), after={
        "policy": policy.name, "level": level_no, "round": round_, "people": [p.key for p in reached.people],
        "names": [p.name for p in reached.people], "methods": list(level.methods), "drill": False,
        "pages": len(effects)})
    plan = StepPlan(effects, [event], now + level.after if effects else now)
    if step > 0:
        plan.events.insert(0, TimelineEvent("escalated", now, None, f"nobody acknowledged: escalated to {where}",
                                            after={"policy": policy.name, "to_level": level_no, "round": round_}))
    return plan


def plan_drill(incident: Incident, policy: EscalationPolicy, config: BeaconConfig, now: datetime) -> StepPlan:
    """A drill pages its declarer by the first level's methods, and nobody else."""
    declarer = incident.declared_by
    person = find_person(config, declarer.aad_object_id) or Pager(
        declarer.aad_object_id.lower(), declarer.name, aad_object_id=declarer.aad_object_id)
    methods = policy.levels[0].methods
    effects, missing = page_effects(incident, [person], methods, 1, 1)
    notes = f": {'; '.join(missing)}" if missing else ""
    return StepPlan(effects, [TimelineEvent(
        "paged", now, None, f"DRILL: paged only the declarer, {person.name or person.key}, by "
        f"{', '.join(methods)}{notes}", after={"policy": policy.name, "level": 1, "round": 1, "people": [person.key],
                                              "names": [person.name], "methods": list(methods), "drill": True,
                                              "pages": len(effects)})])


def plan_unanswered(incident: Incident, policy: EscalationPolicy, config: BeaconConfig, now: datetime) -> StepPlan:
    """Every level and repeat went unanswered: say so in the thread and mention the service's team."""
    assert incident.id is not None
    service = config.service(incident.service)
    team = next((t for t in config.directory.teams if service and t.name == service.team), None)
    mentions = [[m.name, m.aad_object_id] for m in (team.members if team else []) if m.aad_object_id]
    text = f"Nobody acknowledged {incident.number} after every level of {policy.name}" + (
        f" ({policy.repeat + 1} rounds)" if policy.repeat else "") + "."
    if team is not None:
        text += f" {team.name} team, please pick it up."
    notice = ThreadMention(incident.id, text, mentions, f"{incident.number} nobody acknowledged", "page-unanswered")
    return StepPlan([notice], [TimelineEvent("page_unanswered", now, None, f"nobody acknowledged {incident.number}",
                                             after={"policy": policy.name, "team": team.name if team else ""})])
