"""Follow-up actions: completing one, and the reminders that fall due (report and actions)."""

from __future__ import annotations

from datetime import datetime

from services.incidents import DomainError, Person
from services.lifecycle import Deps
from services.review import store
from services.review.settings import ReviewSettings
from services.review.tables import ActionItemRow, ReviewTimerRow
from services.review.usecases import record, thread_card
from services.store.uow import UnitOfWork


async def complete_action(deps: Deps, action_id: int, actor: Person) -> bool:
    """Mark an action done and note it on its incident's timeline; False when it already was."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        item = await uow.session.get(ActionItemRow, action_id, populate_existing=True)
        if item is None:
            raise DomainError(f"follow-up action {action_id} does not exist")
        if item.status == "done":
            return False
        incident = await uow.get_incident(item.incident_id)
        assert incident is not None
        item.status, item.completed_at, item.completed_by = "done", now, actor.to_dict()
        await store.drop_timers(uow, f"action:{action_id}:due", f"action:{action_id}:overdue")
        await record(uow, incident, "action_completed", actor,
                     f"{actor.name} completed follow-up action: {item.title}", now, after={"action_id": action_id})
        await uow.commit()
    return True


async def fire(uow: UnitOfWork, timer: ReviewTimerRow, settings: ReviewSettings, now: datetime) -> None:
    """One due reminder, in the claiming transaction: the post and the timer's next step commit together."""
    incident = await uow.get_incident(timer.incident_id)
    if incident is None:
        await uow.session.delete(timer)
        return
    if timer.kind == "report":
        row = await store.report_row(uow, timer.incident_id)
        if row is None or row.completed_at is not None:
            await uow.session.delete(timer)
            return
        row.reminders += 1
        await thread_card(uow, incident, f"report-reminder:{row.reminders}", {
            "card": "report_reminder", "owner_name": row.owner_name, "owner_id": row.owner_aad,
            "role": row.owner_role, "count": row.reminders}, now)
        await record(uow, incident, "report_reminder", None,
                     f"reminded {row.owner_name} to complete the report (reminder {row.reminders})", now)
        timer.due_at = now + settings.report_reminder_every
        return
    item = await uow.session.get(ActionItemRow, timer.action_id)
    await uow.session.delete(timer)
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
