"""Read models for cards: the incident plus the names Beacon learned about its people, its latest
status update, and what each integration adds (registered once at start-up by the composition
root). A view is either the card everyone sees, or one person's own (their click's answer, or
Teams refreshing the card for them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

from cards import strings
from cards.incident import IncidentView, LatestUpdate, ViewExtras
from cards.messages import ListedIncident
from services.incidents import Incident, IncidentNotFound, Person
from services.intake.tickets import teams_thread_url
from services.lifecycle import COUNTED_CHANGES, ActionOutcome
from services.store.tables import ThreadRow
from services.store.uow import UnitOfWork

ExtrasProvider = Callable[[UnitOfWork, Incident], Awaitable[ViewExtras]]


async def incident_view(uow: UnitOfWork, incident_id: int, providers: list[ExtrasProvider], *,
                        notice: str = "", notice_lines: tuple[str, ...] = (), is_error: bool = False,
                        now: datetime | None = None, admins: Collection[str] = ()) -> IncidentView:
    incident = await uow.incidents.get(incident_id)
    if incident is None:
        raise IncidentNotFound(f"INC-{incident_id} does not exist")
    return await view_of(uow, incident, providers, notice=notice, notice_lines=notice_lines,
                         is_error=is_error, now=now, admins=admins)


async def _latest_update(uow: UnitOfWork, incident: Incident) -> LatestUpdate | None:
    event = await uow.timeline.latest(incident.id or 0, "status_update") if incident.id else None
    if event is None:
        return None
    after = event.after or {}
    author = "" if after.get("automatic") else (event.actor.name if event.actor else "")
    return LatestUpdate(event.at, str(after.get("text", "")), author, str(after.get("audience", "responders")))


async def view_of(uow: UnitOfWork, incident: Incident, providers: list[ExtrasProvider], *,
                  notice: str = "", notice_lines: tuple[str, ...] = (), is_error: bool = False,
                  now: datetime | None = None, viewer: Person | None = None, admins: Collection[str] = (),
                  more_notices: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> IncidentView:
    """`admins` are the incident admins' Entra ids: an admin viewer sees setup problems, and the
    card everyone sees asks Teams to refresh it for the commander and the admins it knows, so
    each gets their own view (no "Take command" for the commander; problems for admins)."""
    involved = [p.aad_object_id for p in (incident.acknowledged_by, *incident.responders) if p and not p.name]
    lead = [incident.commander.aad_object_id] if incident.commander else []
    people = await uow.people.named(list(dict.fromkeys([*lead, *involved, *admins])))
    extras = ViewExtras()
    for provider in providers:
        extras = extras + await provider(uow, incident)
    refresh: list[str] = []
    if viewer is None:
        commander = incident.commander
        if commander is not None:
            refresh.append(commander.user_id or people.get(commander.aad_object_id, commander).user_id or "")
        refresh += [people[a].user_id or "" for a in admins if a in people]
    return IncidentView(incident, people, notice, notice_lines, is_error, extras,
                        latest_update=await _latest_update(uow, incident), now=now or datetime.now(UTC),
                        viewer=viewer, viewer_is_admin=bool(viewer and viewer.aad_object_id in admins),
                        refresh_for=tuple(r for r in refresh if r.startswith("29:")), more_notices=more_notices)


def thread_link(thread: ThreadRow | None) -> str:
    """A deep link that opens an incident's thread in Teams ("" before it is posted)."""
    if thread is None:
        return ""
    return teams_thread_url(thread.channel_id, thread.conversation_id, thread.root_activity_id, thread.tenant_id)


async def listed_incidents(uow: UnitOfWork) -> list[ListedIncident]:
    """The open incidents as `@Beacon list` shows them: commander, last update, thread."""
    incidents = await uow.incidents.open()
    unnamed = [i.commander.aad_object_id for i in incidents if i.commander and not i.commander.name]
    people = await uow.people.named(unnamed)
    listed = []
    for incident in incidents:
        assert incident.id is not None
        commander = named_person(incident.commander, people) if incident.commander else None
        update = await _latest_update(uow, incident)
        listed.append(ListedIncident(
            incident, commander.name if commander else "", thread_link(await uow.threads.get(incident.id)),
            update.at if update else None, update.text if update else ""))
    return listed


def named_person(person: Person, people: dict[str, Person]) -> Person:
    return person if person.name else people.get(person.aad_object_id, person)


def changed_meanwhile(outcome: ActionOutcome) -> tuple[str, tuple[str, ...]]:
    """What changed since the clicker's card (a heading, then the latest changes and how many came
    before them), for an outcome that has `changed_meanwhile`."""
    heading = strings.APPLIED_ON_NEWER if outcome.applied else strings.STALE
    earlier = outcome.earlier_changes
    if not earlier:
        return heading, tuple(outcome.changed_meanwhile)
    counted_all = earlier + len(outcome.changed_meanwhile) < COUNTED_CHANGES
    more = (strings.EARLIER_CHANGES if counted_all else strings.EARLIER_CHANGES_AT_LEAST).format(count=earlier)
    return heading, (*outcome.changed_meanwhile, more)
