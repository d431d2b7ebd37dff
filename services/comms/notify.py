"""Queue the communication plan's effects in the caller's transaction: posts, emails, SMS.

Idempotency keys name the incident, the message (initial, update sequence, resolution), the
route and the recipient, so a retried transaction or a replayed timer never sends twice. The
`*_post(s)` functions only say what goes out, so the scheduler can queue a whole batch at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.comms import messages, plan
from services.comms.messages import INITIAL, RESOLUTION, RESPONDERS, STAKEHOLDERS, UPDATE, Message
from services.comms.plan import Routes
from services.config import BeaconConfig
from services.effects import OutboxEffect
from services.effects.messages import SendEmail, SendSms
from services.effects.teams import (
    PostCard,
    ResolvePeople,
    StakeholderPost,
    ThreadCard,
    ThreadMention,
    ThreadNote,
    UpdateCard,
)
from services.incidents import Incident, TimelineEvent
from services.ports import Recipient
from services.store.uow import UnitOfWork


async def queue(uow: UnitOfWork, effects: Iterable[OutboxEffect], now: datetime) -> None:
    await uow.outbox.add_many(list(effects), now=now)


def _id(incident: Incident) -> int:
    assert incident.id is not None
    return incident.id


async def incident_thread(uow: UnitOfWork, incident: Incident, target: dict[str, str], now: datetime) -> None:
    """The incident card as the root of a new thread (or a message in a chat)."""
    await queue(uow, [PostCard(_id(incident), target, f"{incident.number} card")], now)


def _emails(incident: Incident, key: str, routes_emails: Any, message: Message,
            status_url: str = "") -> list[OutboxEffect]:
    """`status_url`: the client's status page, linked at the end (only in the client's people's emails)."""
    if incident.drill:  # a drill never reaches real people outside its thread
        return []
    mail = messages.email(message, status_url)
    return [SendEmail(incident.id, key, recipient.email, recipient.name, mail.subject, mail.html, mail.text,
                      f"email to {recipient.email}") for recipient in routes_emails]


def _sms(incident: Incident, key: str, numbers: tuple[str, ...], message: Message) -> list[OutboxEffect]:
    if incident.drill:
        return []
    text = messages.sms(message)
    return [SendSms(incident.id, key, number, text, f"SMS to …{number[-4:]}") for number in numbers]


def _stakeholder_channel(incident: Incident, config: BeaconConfig, key: str, message: Message,
                         endpoint: dict[str, str] | None = None) -> list[OutboxEffect]:
    """The stakeholders' message as a card in the incident's thread of the stakeholder channel."""
    channel = config.channels.stakeholder_channel
    if not channel or incident.drill:
        return []
    text = "\n".join(f"{label}: {value}" for label, value in messages.rows(message, messages.utc))
    return [StakeholderPost(_id(incident), channel, "message", text, endpoint or {},
                            f"{incident.number} stakeholder channel post", f"{key}:stakeholder-channel",
                            message.to_dict())]


def _messages(incident: Incident, config: BeaconConfig, kind: str, now: datetime, **written: Any) -> tuple[
        Message, Message, Message]:
    """The message of `kind` for the stakeholder channel, the stakeholder routes (a client's
    contacts, or the organisation's stakeholders) and the team."""
    def compose(audience: str) -> Message:
        return messages.compose(incident, config, kind, audience, at=now, **written)
    return compose(STAKEHOLDERS), compose(messages.audience_of_routes(incident)), compose(RESPONDERS)


async def initial_notification(uow: UnitOfWork, incident: Incident, config: BeaconConfig,
                               now: datetime, endpoint: dict[str, str] | None = None, status_url: str = "") -> None:
    """Stakeholder channel, stakeholder and team email, and SMS for high impact. `endpoint` is the
    Teams service URL and tenant the declaration came from; `status_url` the client's status page,
    which the stakeholders' emails link (for a client's incident they are the client's people)."""
    routes = plan.routes_for(incident, config) if not incident.drill else Routes((), (), ())
    channel, outside, team = _messages(incident, config, INITIAL, now)
    await queue(uow, [*_stakeholder_channel(incident, config, "initial", channel, endpoint),
                      *_emails(incident, "initial", routes.stakeholder_emails, outside, status_url),
                      *_emails(incident, "initial", _not_in(routes.team_emails, routes.stakeholder_emails), team),
                      *_sms(incident, "initial", routes.sms_numbers, outside)], now)
    await uow.timeline.record(incident.id or 0, TimelineEvent(
        "notified", now, None, _describe_routes("initial notification", routes, config),
        after={"routes": routes.to_dict()}), incident.version)


def _not_in(recipients: tuple[Recipient, ...], already: tuple[Recipient, ...]) -> tuple[Recipient, ...]:
    """Team members who are not also stakeholders (those read the stakeholders' message once)."""
    known = {r.email for r in already}
    return tuple(r for r in recipients if r.email not in known)


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
                        sequence: int, now: datetime, status_url: str = "") -> None:
    """Deliver a posted (or automatic) status update on its audience's routes."""
    await queue(uow, status_update_posts(incident, config, event, sequence, status_url), now)


def status_update_posts(incident: Incident, config: BeaconConfig, event: TimelineEvent,
                        sequence: int, status_url: str = "", next_update: datetime | None = None
                        ) -> list[OutboxEffect]:
    """`status_url`: the client's status page, which the stakeholders' emails link; `next_update`
    the time the audience's timer was armed for, when it is not one cadence after the update (an
    automatic update keeps to the schedule it fell due on, not to when it was posted)."""
    after = event.after or {}
    audience, text = after.get("audience", RESPONDERS), str(after.get("text", ""))
    if audience == RESPONDERS:
        return [ThreadCard(_id(incident), "status_update", f"{incident.number} {audience} update {sequence}",
                           f"update:{audience}:{sequence}", {
                               "audience": audience, "text": text, "automatic": bool(after.get("automatic")),
                               "late": bool(after.get("late")), "author": event.actor.name if event.actor else "",
                               "sequence": sequence})]
    routes = plan.routes_for(incident, config)
    written = {"text": text, "author": event.actor.name if event.actor else "", "sequence": sequence,
               "automatic": bool(after.get("automatic")), "next_update": next_update}
    channel, outside, _ = _messages(incident, config, UPDATE, event.at, **written)
    return [*_stakeholder_channel(incident, config, f"update:{sequence}", channel),
            *_emails(incident, f"update:{sequence}", routes.stakeholder_emails, outside, status_url)]


def reminder_post(incident: Incident, audience: str, owner_name: str, owner_id: str, sequence: int,
                  prefill: str, late: bool, *, due_at: datetime, posts_at: datetime) -> OutboxEffect:
    """@mentions the owner of a due update with a draft to post; says when the update fell due and
    when Beacon posts it by itself."""
    return ThreadCard(_id(incident), "reminder", f"{incident.number} {audience} update reminder {sequence}",
                      f"reminder:{audience}:{sequence}", {
                          "audience": audience, "owner_name": owner_name, "owner_id": owner_id, "text": prefill,
                          "late": late, "sequence": sequence, "version": incident.version,
                          "due_at": due_at.isoformat(), "posts_at": posts_at.isoformat()})


async def resolution_notice(uow: UnitOfWork, incident: Incident, config: BeaconConfig,
                            timeline: list[TimelineEvent], now: datetime, status_url: str = "") -> None:
    """On every route that got the initial notification; the stakeholders' emails link
    `status_url`, the client's status page."""
    notified = next((e for e in timeline if e.kind == "notified"), None)
    routes = Routes.from_dict((notified.after or {}).get("routes", {})) if notified else Routes((), (), ())
    key = f"resolution:v{incident.version}"
    resolved = next((e for e in reversed(timeline) if e.kind == "resolved"), None)
    by = resolved.actor.name if resolved and resolved.actor else ""  # the thread's only word on who resolved it
    channel, outside, team = _messages(incident, config, RESOLUTION, now, author=by)
    await queue(uow, [
        ThreadCard(_id(incident), "message", f"{incident.number} resolution notice", key,
                   {"message": team.to_dict(), "by": by}),
        *_stakeholder_channel(incident, config, key, channel),
        *_emails(incident, key, routes.stakeholder_emails, outside, status_url),
        *_emails(incident, key, _not_in(routes.team_emails, routes.stakeholder_emails), team),
        *_sms(incident, key, routes.sms_numbers, outside)], now)


async def card_refresh(uow: UnitOfWork, incident: Incident, now: datetime, *, note: str) -> None:
    """Update the thread-root card for everyone, and say in the thread who did what."""
    await queue(uow, card_refresh_posts(incident, note=note), now)


def card_refresh_posts(incident: Incident, *, note: str) -> list[OutboxEffect]:
    posts: list[OutboxEffect] = [UpdateCard(_id(incident), f"{incident.number} card update",
                                            f"card:v{incident.version}")]
    if note:
        posts.append(ThreadNote(_id(incident), note, f"{incident.number} thread note", f"note:v{incident.version}"))
    return posts


async def resolve_names(uow: UnitOfWork, incident: Incident, now: datetime) -> None:
    """People chosen in the picker arrive as AAD ids only; ask Teams for their names."""
    unnamed = [p.aad_object_id for p in (incident.commander, *incident.responders) if p and not p.name]
    known = await uow.people.named(unnamed)
    missing = [aad for aad in unnamed if aad not in known]
    if missing:
        await queue(uow, [ResolvePeople(_id(incident), missing, f"{incident.number} names of chosen people",
                                        f"people:v{incident.version}")], now)



def _newly_assigned(event: TimelineEvent) -> tuple[str, list[dict[str, Any]]]:
    """The role and the people an event gives it to (a declaration naming a commander, a new
    commander, responders added)."""
    after, before = event.after or {}, event.before or {}
    if event.kind in ("declared", "commander_changed"):
        return "the commander", [after["commander"]] if after.get("commander") else []
    if event.kind == "responders_assigned":
        known = {p.get("aad_object_id") for p in before.get("responders") or []}
        return "a responder", [p for p in after.get("responders") or [] if p.get("aad_object_id") not in known]
    return "", []


async def assignments(uow: UnitOfWork, incident: Incident, events: list[TimelineEvent], now: datetime) -> None:
    """Tell people they were made commander or responder as Teams notifies: a new reply in the
    thread that @mentions them (an edited card notifies nobody), and a personal message for those
    who are not in the channel. Nobody is told of what they did to themselves."""
    effects: list[OutboxEffect] = []
    for index, event in enumerate(events):
        role, people = _newly_assigned(event)
        actor = event.actor.aad_object_id if event.actor else ""
        people = [p for p in people if p.get("aad_object_id") and p["aad_object_id"] != actor]
        if not people:
            continue
        by = event.actor.name if event.actor and event.actor.name else "Beacon"
        text = f"{by} made you {role} of {incident.label} {incident.priority}: {incident.title}"
        effects.append(ThreadMention(_id(incident), text, [[p.get("name") or "", p["aad_object_id"]] for p in people],
                                     f"{incident.number} {role.split()[-1]} assigned",
                                     f"assigned:v{incident.version}:{index}", personal_if_absent=True))
    await queue(uow, effects, now)
