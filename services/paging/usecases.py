"""Paging inside the pipeline's transaction: start paging when an incident is declared, follow
its changes (an acknowledgement or a resolution stops the escalation; a change may count as the
acknowledgement), and fire a due escalation step for the scheduler."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from services.incidents import Incident, TimelineEvent
from services.paging.escalation import (
    ESCALATION,
    SYSTEM_ACTOR,
    StepPlan,
    plan_drill,
    plan_step,
    plan_unanswered,
    policy_for,
    total_steps,
)
from services.paging.shifts import Override

if TYPE_CHECKING:
    from services.deps import Deps
    from services.scheduler.fire import Batch
    from services.store.tables import TimerRow
    from services.store.uow import UnitOfWork


async def start_paging(uow: UnitOfWork, incident: Incident, deps: Deps, now: datetime) -> None:
    """Page the first level now (the pages go out when this commits) and arm the escalation."""
    policy = policy_for(incident, deps.config)
    if policy is None:
        return
    assert incident.id is not None
    if incident.drill:
        await _write(uow, incident, plan_drill(incident, policy, deps.config, now), now)
        return
    overrides = await uow.oncall_overrides.active(now)
    plan = plan_step(incident, policy, 0, deps.config, now, overrides, deps.shift_feeds)
    await _write(uow, incident, plan, now)
    assert plan.next_due is not None
    uow.timers.start(incident.id, ESCALATION, plan.next_due)  # sequence 1, the next step


async def _write(uow: UnitOfWork, incident: Incident, plan: StepPlan, now: datetime) -> None:
    assert incident.id is not None
    await uow.outbox.add_many(plan.effects, now=now)
    await uow.timeline.record_many([(incident.id, incident.version, event) for event in plan.events])


def acknowledge_by_change(incident: Incident, deps: Deps, now: datetime) -> None:
    """With the policy's `any_change_acknowledges`, the first change a person makes to a paged,
    unacknowledged incident acknowledges it (before it is saved, so it is one change)."""
    policy = policy_for(incident, deps.config)
    if policy is None or not policy.any_change_acknowledges or incident.acknowledged_at or not incident.is_open:
        return
    actor = next((e.actor for e in incident.pending_events if e.actor and e.actor.aad_object_id != SYSTEM_ACTOR),
                 None)
    if actor is not None:
        incident.acknowledge(actor, now, via="change")


async def follow_change(uow: UnitOfWork, incident: Incident, events: list[TimelineEvent]) -> None:
    """An acknowledgement stops the escalation (resolving stops every timer in comms.hooks) and is
    counted for the paging metrics in the same transaction."""
    assert incident.id is not None
    if incident.acknowledged_at and any(e.kind in ("acknowledged", "commander_changed") for e in events):
        await uow.timers.drop_kind(incident.id, ESCALATION)
        await uow.paging_metrics.record_acknowledgement(incident, events)


def fire_escalation(batch: Batch, timer: TimerRow, incident: Incident | None, overrides: list[Override]) -> None:
    """A due escalation step, inside the scheduler's batch: page it and move the timer on, or say
    nobody acknowledged, or drop the timer when the page was answered or the incident is over."""
    config, now = batch.config, batch.now
    policy = policy_for(incident, config) if incident is not None else None
    if incident is None or policy is None or incident.drill or incident.acknowledged_at or not incident.is_open:
        batch.dropped.append(timer)
        return
    assert incident.id is not None
    if timer.sequence >= total_steps(policy):
        plan = plan_unanswered(incident, policy, config, now)
        batch.dropped.append(timer)
    else:
        plan = plan_step(incident, policy, timer.sequence, config, now, overrides, batch.feeds)
        assert plan.next_due is not None
        batch.moves.append((timer, timer.phase, plan.next_due, timer.sequence + 1))
    batch.posts += plan.effects
    batch.events += [(incident.id, incident.version, event) for event in plan.events]
