"""Schedule the review: a calendar event through Graph inside the review window, inviting the
commander, responders, report owner and (optionally) the client, with the report link."""

from __future__ import annotations

import html
from datetime import UTC, datetime, time, timedelta
from typing import Any

from services.comms.plan import stakeholder_owner
from services.config import BeaconConfig
from services.deps import Deps
from services.incidents import DomainError, Incident, Person, ValidationFailed
from services.review.client_summary import internal_addresses
from services.review.effects import CreateReviewEvent
from services.review.settings import ReviewSettings
from services.review.usecases import _incident_and_report, record, thread_card


def add_business_days(start: datetime, days: int) -> datetime:
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def review_slot(now: datetime, window_days: int, requested: object = None) -> datetime:
    """10:00 UTC on the requested business day, or the next business day; inside the window."""
    last = add_business_days(now, window_days).date()
    if requested:
        try:
            day = datetime.strptime(str(requested)[:10], "%Y-%m-%d").date()
        except ValueError:
            raise ValidationFailed("review_date", "the review date must be a date such as 2026-02-01") from None
    else:
        day = add_business_days(now, 1).date()
    if day.weekday() >= 5 or day <= now.date() or day > last:
        raise ValidationFailed("review_date", f"choose a business day after today and by {last.isoformat()}")
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


def _emails(config: BeaconConfig) -> dict[str, tuple[str, str]]:
    people = [m for t in config.directory.teams for m in t.members] + config.directory.stakeholders
    people += [c.account_owner for c in config.directory.clients if c.account_owner]
    if config.directory.product_head:
        people.append(config.directory.product_head)
    return {p.aad_object_id: (p.email, p.name) for p in people if p.aad_object_id and p.email}


def attendees(incident: Incident, config: BeaconConfig, include_client: bool) -> tuple[list[list[str]], list[str]]:
    """([email, name] to invite, names that could not be invited for lack of an email address)."""
    known = _emails(config)
    invite: dict[str, list[str]] = {}
    missing: list[str] = []
    people: list[Person] = [p for p in (incident.commander, *incident.responders) if p]
    for person in people:
        if person.aad_object_id in known:
            email, name = known[person.aad_object_id]
            invite.setdefault(email.lower(), [email, person.name or name])
        else:
            missing.append(person.name or person.aad_object_id)
    owner, _ = stakeholder_owner(incident, config)
    if owner and owner.email:
        invite.setdefault(owner.email.lower(), [owner.email, owner.name])
    client = config.client(incident.client) if incident.client else None
    if include_client and client and not incident.drill:
        for contact in client.contacts:
            if contact.email:
                invite.setdefault(contact.email.lower(), [contact.email, contact.name])
    return list(invite.values()), missing


def _invitation(incident: Incident, link: str, invite: list[list[str]], config: BeaconConfig) -> str:
    """Every attendee reads the same invitation: the internal report is linked only when all of them
    are the organisation's own people (a client's contacts get the approved customer summary)."""
    about = f"<p>Post-incident review of {html.escape(incident.label)}: {html.escape(incident.title)}.</p>"
    internal = internal_addresses(config)
    if all(email.lower() in internal for email, _ in invite):
        return about + f"<p><a href='{html.escape(link)}'>The report</a></p>"
    return about + ("<p>Attendees from the team: the post-incident report is linked in the incident's thread in "
                    "Teams.</p>")


async def schedule_review(deps: Deps, settings: ReviewSettings, incident_id: int, data: dict[str, Any],
                          actor: Person) -> tuple[Incident, datetime]:
    now = deps.clock.now()
    start = review_slot(now, settings.review_window_business_days, data.get("review_date"))
    include_client = str(data.get("include_client") or "").lower() in ("true", "1", "yes", "on")
    async with deps.uow() as uow:
        incident, row = await _incident_and_report(uow, incident_id)
        if row.review_start is not None:
            raise DomainError(f"the review of {incident.label} is already scheduled")
        invite, missing = attendees(incident, deps.config, include_client)
        if not invite:
            raise DomainError("nobody to invite: no commander, responder or report owner has an email address")
        body = _invitation(incident, settings.links.url(incident_id, now), invite, deps.config)
        row.review_start = start
        failed = sum(e.kind == "review_event_failed" for e in await uow.timeline.of(incident_id))
        await uow.outbox.add(CreateReviewEvent(
            incident_id, subject=f"Post-incident review: {incident.label} {incident.title}"[:250], body_html=body,
            start=start.isoformat(), end=(start + settings.review_length).isoformat(), attendees=invite,
            description=f"{incident.number} review meeting", attempt=failed + 1), now=now)
        note = f"; not invited (no email address): {', '.join(missing)}" if missing else ""
        await record(uow, incident, "review_scheduled", actor,
                     f"{actor.name} scheduled the review for {start:%Y-%m-%d %H:%M} UTC with "
                     f"{len(invite)} invitees{note}", now, after={"attendees": invite})
        await uow.commit()
    return incident, start


async def review_event_failed(deps: Deps, settings: ReviewSettings, incident_id: int, reason: str) -> None:
    """The calendar event of a scheduled review could not be created, for good: the review is
    unscheduled again, the timeline says why, and the thread gets the summary card back with its
    Schedule review form, so someone can pick a date once the cause is fixed."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        incident, row = await _incident_and_report(uow, incident_id)
        if row.review_start is None or row.review_held_at is not None:
            return  # already unscheduled by an earlier attempt, or held anyway
        row.review_start = None
        await record(uow, incident, "review_event_failed", None,
                     f"the review meeting could not be created: {reason}"[:500], now, after={"reason": reason[:2000]})
        await thread_card(uow, incident, f"review-failed:{now.isoformat()}", {
            "card": "report_summary", "link": settings.links.url(incident_id, now),
            "notice": f"The review meeting could not be created ({reason[:300]}). Choose a date to schedule it again."},
            now)
        await uow.commit()
