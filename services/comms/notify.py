"""Queue the communication plan's effects in the caller's transaction: posts, emails, SMS.

Idempotency keys name the incident, the message (initial, update sequence, resolution), the
route and the recipient, so a retried transaction or a replayed timer never sends twice. The
`*_post(s)` functions only say what goes out, so the scheduler can queue a whole batch at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.comms import plan
from services.comms.plan import RESPONDERS, Routes
from services.config import BeaconConfig
from services.incidents import Incident, TimelineEvent
from services.store.uow import Outgoing, UnitOfWork


def _order(incident: Incident, route: str) -> str:
    return f"incident:{incident.id}:{route}"


async def queue(uow: UnitOfWork, effects: Iterable[Outgoing], now: datetime) -> None:
    await uow.enqueue_many(list(effects), now=now)


def _teams_post(incident: Incident, kind: str, key: str, payload: dict[str, Any], *,
                route: str = "teams") -> Outgoing:
    """Posts in one incident thread go out in order (the root card first)."""
    return Outgoing(kind, {"incident_id": incident.id, **payload}, f"incident:{incident.id}:{key}", incident.id,
                    _order(incident, route))


async def _teams(uow: UnitOfWork, incident: Incident, kind: str, key: str, payload: dict[str, Any],
                 now: datetime, *, route: str = "teams") -> None:
    await queue(uow, [_teams_post(incident, kind, key, payload, route=route)], now)


async def incident_thread(uow: UnitOfWork, incident: Incident, target: dict[str, str], now: datetime) -> None:
    """The incident card as the root of a new thread (or a message in a chat)."""
    await _teams(uow, incident, "teams.post_card", "root",
                 {"target": target, "description": f"{incident.number} card"}, now)


def _emails(incident: Incident, key: str, routes_emails: Any, message: plan.Email) -> list[Outgoing]:
    if incident.drill:  # a drill never reaches real people outside its thread
        return []
    return [Outgoing("email.send", {
        "to": [[recipient.email, recipient.name]], "subject": message.subject, "html": message.html,
        "text": message.text, "description": f"email to {recipient.email}"},
        f"incident:{incident.id}:{key}:email:{recipient.email.lower()}", incident.id,
        _order(incident, f"email:{recipient.email.lower()}")) for recipient in routes_emails]


def _sms(incident: Incident, key: str, numbers: tuple[str, ...], text: str) -> list[Outgoing]:
    if incident.drill:
        return []
    return [Outgoing("sms.send", {"to": number, "text": text, "description": f"SMS to …{number[-4:]}"},
                     f"incident:{incident.id}:{key}:sms:{number}", incident.id, _order(incident, f"sms:{number}"))
            for number in numbers]


def _stakeholder_channel(incident: Incident, config: BeaconConfig, key: str, card: str, text: str,
                         endpoint: dict[str, str] | None = None) -> list[Outgoing]:
    channel = config.channels.stakeholder_channel
    if not channel or incident.drill:
        return []
    return [_teams_post(incident, "teams.stakeholder_post", f"{key}:stakeholder-channel",
                        {"channel_id": channel, "card": card, "text": text, "endpoint": endpoint or {},
                         "description": f"{incident.number} stakeholder channel post"}, route="stakeholders")]


async def initial_notification(uow: UnitOfWork, incident: Incident, config: BeaconConfig,
                               now: datetime, endpoint: dict[str, str] | None = None) -> None:
    """Stakeholder channel, stakeholder and team email, and SMS for high impact. `endpoint` is the
    Teams service URL and tenant the declaration came from."""
    routes = plan.routes_for(incident, config) if not incident.drill else Routes((), (), ())
    text = plan.initial_text(incident)
    await queue(uow, [*_stakeholder_channel(incident, config, "initial", "initial", text, endpoint),
                      *_emails(incident, "initial", routes.stakeholder_emails + routes.team_emails,
                               plan.email(incident, "Incident declared", text)),
                      *_sms(incident, "initial", routes.sms_numbers, plan.sms(incident, text))], now)
    await uow.record_event(incident.id or 0, TimelineEvent(
        "notified", now, None, _describe_routes("initial notification", routes, config),
        after={"routes": routes.to_dict()}), incident.version)


def _describe_routes(what: str, routes: Routes, config: BeaconConfig) -> str:
    parts = ["incident thread"]
    if config.channels.stakeholder_channel:
        parts.append("stakeholder channel")
    emails = len(routes.stakeholder_emails) + len(routes.team_emails)
    if emails:
        parts.append(f"{emails} email(s)")
    if routes.sms_numbers:
        parts.append(f"{len(routes.sms_numbers)} SMS")
    return f"{what} sent to " + ", ".join(parts)


async def status_update(uow: UnitOfWork, incident: Incident, config: BeaconConfig, event: TimelineEvent,
                        sequence: int, now: datetime) -> None:
    """Deliver a posted (or automatic) status update on its audience's routes."""
    await queue(uow, status_update_posts(incident, config, event, sequence), now)


def status_update_posts(incident: Incident, config: BeaconConfig, event: TimelineEvent,
                        sequence: int) -> list[Outgoing]:
    after = event.after or {}
    audience, text = after.get("audience", RESPONDERS), str(after.get("text", ""))
    data = {"card": "status_update", "audience": audience, "text": text,
            "automatic": bool(after.get("automatic")), "late": bool(after.get("late")),
            "author": event.actor.name if event.actor else "", "sequence": sequence,
            "description": f"{incident.number} {audience} update {sequence}"}
    if audience == RESPONDERS:
        return [_teams_post(incident, "teams.thread_card", f"update:{audience}:{sequence}", data)]
    routes = plan.routes_for(incident, config)
    return [*_stakeholder_channel(incident, config, f"update:{sequence}", "status_update", text),
            *_emails(incident, f"update:{sequence}", routes.stakeholder_emails,
                     plan.email(incident, "Status update", text))]


def reminder_post(incident: Incident, audience: str, owner_name: str, owner_id: str, sequence: int,
                  prefill: str, late: bool) -> Outgoing:
    """@mentions the owner of a due update with a draft to post."""
    return _teams_post(incident, "teams.thread_card", f"reminder:{audience}:{sequence}", {
        "card": "reminder", "audience": audience, "owner_name": owner_name, "owner_id": owner_id,
        "text": prefill, "late": late, "sequence": sequence, "version": incident.version,
        "description": f"{incident.number} {audience} update reminder {sequence}"})


async def resolution_notice(uow: UnitOfWork, incident: Incident, config: BeaconConfig,
                            timeline: list[TimelineEvent], now: datetime) -> None:
    """On every route that got the initial notification."""
    notified = next((e for e in timeline if e.kind == "notified"), None)
    routes = Routes.from_dict((notified.after or {}).get("routes", {})) if notified else Routes((), (), ())
    text = plan.resolution_text(incident)
    key = f"resolution:v{incident.version}"
    await queue(uow, [
        _teams_post(incident, "teams.thread_card", key, {
            "card": "resolution", "text": text, "description": f"{incident.number} resolution notice"}),
        *_stakeholder_channel(incident, config, key, "resolution", text),
        *_emails(incident, key, routes.stakeholder_emails + routes.team_emails, plan.email(incident, "Resolved", text)),
        *_sms(incident, key, routes.sms_numbers, plan.sms(incident, text))], now)


async def card_refresh(uow: UnitOfWork, incident: Incident, now: datetime, *, note: str) -> None:
    """Update the thread-root card for everyone, and say in the thread who did what."""
    await queue(uow, card_refresh_posts(incident, note=note), now)


def card_refresh_posts(incident: Incident, *, note: str) -> list[Outgoing]:
    posts = [_teams_post(incident, "teams.update_card", f"card:v{incident.version}",
                         {"description": f"{incident.number} card update"})]
    if note:
        posts.append(_teams_post(incident, "teams.thread_note", f"note:v{incident.version}",
                                 {"text": note, "description": f"{incident.number} thread note"}))
    return posts


async def resolve_names(uow: UnitOfWork, incident: Incident, now: datetime) -> None:
    """People chosen in the picker arrive as AAD ids only; ask Teams for their names."""
    unnamed = [p.aad_object_id for p in (incident.commander, *incident.responders) if p and not p.name]
    known = await uow.people(unnamed)
    missing = [aad for aad in unnamed if aad not in known]
    if missing:
        await _teams(uow, incident, "teams.resolve_people", f"people:v{incident.version}",
                     {"ids": missing, "description": f"{incident.number} names of chosen people"}, now)

