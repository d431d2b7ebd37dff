"""Follow-up actions: completing one, and the reminders that fall due (report and actions)."""

from __future__ import annotations

from datetime import datetime

from services.deps import Deps
from services.incidents import DomainError, Person
from services.review.settings import ReviewSettings
from services.review.tables import ReviewTimerRow
from services.review.usecases import record, thread_card
from services.store.uow import UnitOfWork


async def complete_action(deps: Deps, action_id: int, actor: Person) -> bool:
    """Mark an action done and note it on its incident's timeline; False when it already was."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        item = await uow.reviews.action(action_id)
        if item is None:
            raise DomainError(f"follow-up action {action_id} does not exist")
        if item.status == "done":
            return False
        incident = await uow.incidents.get(item.incident_id)
        assert incident is not None
        item.status, item.completed_at, item.completed_by = "done", now, actor.to_dict()
        await uow.reviews.drop_timers(f"action:{action_id}:due", f"action:{action_id}:overdue")
        await record(uow, incident, "action_completed", actor,
                     f"{actor.name} completed follow-up action: {item.title}", now, after={"action_id": action_id})
        await uow.commit()
    return True


async def fire(uow: UnitOfWork, timer: ReviewTimerRow, settings: ReviewSettings, now: datetime) -> None:
    """One due reminder, in the claiming transaction: the post and the timer's next step commit together."""
    incident = await uow.incidents.get(timer.incident_id)
    if incident is None:
        await uow.reviews.drop_timer(timer)
        return
    if timer.kind == "report":
        row = await uow.reviews.report(timer.incident_id)
        if row is None or row.completed_at is not None:
            await uow.reviews.drop_timer(timer)
            return
        row.reminders += 1
        await thread_card(uow, incident, f"report-reminder:{row.reminders}", {
            "card": "report_reminder", "owner_name": row.owner_name, "owner_id": row.owner_aad,
            "role": row.owner_role, "count": row.reminders}, now)
        await record(uow, incident, "report_reminder", None,
                     f"reminded {row.owner_name} to complete the report (reminder {row.reminders})", now)
        timer.due_at = now + settings.report_reminder_every
        return
    item = await uow.reviews.action(timer.action_id) if timer.action_id is not None else None
    await uow.reviews.drop_timer(timer)
    if item is None or item.status != "open":
        return
    overdue = timer.kind == "action_overdue"
    if overdue:
        item.overdue = True
    word = "overdue" if overdue else "due"
    await thread_card(uow, incident, f"action:{item.id}:{word}", {
        "card": "action_reminder", "action_id": item.id, "title": item.title, "owner_id": item.owner_aad,
        "owner_name": item.owner_name or "owner", "due_at": item.due_at.isoformat(), "overdue": overdue}, now)
    await record(uow, incident, "action_reminder", None,
                 f"follow-up action {word}: {item.title} (reminded {item.owner_name or 'its owner'})", now)
