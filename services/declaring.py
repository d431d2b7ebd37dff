"""The declare use case: a form's values checked and turned into an incident, in one transaction
with its timeline and effects. A form in a chat message is used once (a second submit of it
declares nothing; the form is replaced for everyone with what became of it), and an open incident
that looks like the one being declared is offered first ("join INC-3 instead?")."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from services.config import BeaconConfig
from services.deps import Deps, ThreadTarget
from services.effects.teams import ReplaceForm
from services.impact_start import impact_started_at
from services.incidents import DomainError, Incident, Person, ValidationFailed
from services.incidents.model import MAX_TEXT, MAX_TITLE, clean_text, parse_level
from services.pipeline import declare_within
from services.store.uow import UnitOfWork

# How alike two titles must be (0..1) for the open one to be offered before declaring another.
SIMILAR_TITLES = 0.6
_WORDS = re.compile(r"[\w]+", re.UNICODE)
# Words that say nothing about what is broken.
_FILLER = frozenset({"the", "a", "an", "is", "are", "on", "in", "for", "of", "to", "and", "drill"})


class SimilarIncidentOpen(DomainError):
    """Not declared yet: an open incident looks like this one (the declarer may join it instead)."""

    def __init__(self, incident: Incident):
        super().__init__(f"{incident.label} ({incident.title}) is open and looks like the same problem")
        self.incident = incident


@dataclass(frozen=True)
class FormMessage:
    """Where a declare form sits in Teams (the message an Action.Execute came from)."""

    service_url: str
    conversation_id: str
    activity_id: str
    tenant_id: str = ""

    @property
    def key(self) -> str:
        """The mark its use leaves (the conversation and message ids can be long: a digest)."""
        digest = hashlib.sha256(f"{self.conversation_id}\n{self.activity_id}".encode()).hexdigest()[:40]
        return f"declare-form:{digest}"


async def claim_form(uow: UnitOfWork, form: FormMessage, now: datetime) -> Incident | None:
    """Claim the form for this transaction: the incident it already declared or joined, or None
    when it is unused (the claim then holds until commit, so a racing second submit waits for it
    and finds the incident)."""
    await uow.write_first()
    if await uow.activities.mark_processed(form.key, None, now):
        return None
    incident_id = await uow.activities.incident_of(form.key)
    return await uow.incidents.get(incident_id) if incident_id else None


async def form_used(uow: UnitOfWork, form: FormMessage, incident: Incident, text: str, now: datetime) -> None:
    """Record what the form was used for and replace it for everyone (after the incident's card)."""
    assert incident.id is not None
    await uow.activities.point(form.key, incident.id)
    await uow.outbox.add(ReplaceForm(incident.id, form.service_url, form.conversation_id, form.activity_id,
                                     form.tenant_id, text, f"{incident.number} declare form",
                                     f"form:{form.activity_id}"), now=now)


def declared_text(incident: Incident) -> str:
    return f"Declared as {incident.label} by {incident.declared_by.name or 'someone'}: {incident.title}"


def joined_text(incident: Incident, actor: Person) -> str:
    return (f"{actor.name or 'Someone'} joined {incident.label} ({incident.title}) "
            "instead of declaring a new incident")


def _words(title: str) -> list[str]:
    return [w for w in _WORDS.findall(title.casefold()) if w not in _FILLER]


def title_likeness(one: str, other: str) -> float:
    """0..1: how alike two titles read, word by word (order and small edits matter little)."""
    a, b = _words(one), _words(other)
    if not a or not b:
        return 0.0
    shared = len(set(a) & set(b)) / min(len(set(a)), len(set(b)))
    return max(shared, SequenceMatcher(None, " ".join(sorted(a)), " ".join(sorted(b))).ratio())


def similar_open(incidents: list[Incident], *, title: str, service: str, drill: bool) -> Incident | None:
    """The open incident most like a new declaration: on the same service (or both on none), of the
    same kind (drill or real), with a similar title."""
    alike = [(title_likeness(title, i.title), i) for i in incidents
             if i.is_open and i.drill == drill and (i.service or "") == (service or "")]
    alike = [(score, i) for score, i in alike if score >= SIMILAR_TITLES]
    return max(alike, key=lambda pair: (pair[0], pair[1].id or 0))[1] if alike else None


@dataclass(frozen=True)
class DeclareIncident:
    form: dict[str, Any]
    actor: Person
    target: ThreadTarget
    source: str = "card"
    zone: str = ""  # the declarer's IANA time zone (clientInfo), for "impact started at"
    form_message: FormMessage | None = None  # the chat message holding the form: used once
    offer_similar: bool = False  # an open incident like this one is offered first (SimilarIncidentOpen)


@dataclass(frozen=True)
class Declared:
    incident: Incident
    again: bool = False  # the form had been used already (for this incident): nothing new happened


def person_choice(value: object, config: BeaconConfig, known: dict[str, Person] | None = None) -> Person | None:
    """A person picked by Entra id, named from the directory or from the people Beacon has met
    (`known`), so the timeline and the thread say a name, never the id."""
    aad = str(value or "").strip()
    if not aad:
        return None
    if len(aad) > 100:
        raise ValidationFailed("commander", "the chosen person is not a valid Teams user")
    for member in (m for team in config.directory.teams for m in team.members):
        if member.aad_object_id == aad:
            return Person(aad, member.name)
    met = (known or {}).get(aad)
    return Person(aad, met.name, met.user_id) if met and met.name else Person(aad, "")


def parse_declaration(form: dict[str, Any], config: BeaconConfig, *, now: datetime,
                      zone: str = "") -> dict[str, Any]:
    """Validate the declare form; raises ValidationFailed naming the first bad field."""
    title = clean_text(form.get("title"), "title", limit=MAX_TITLE, required=True)
    client = clean_text(form.get("client"), "client", limit=200)
    if client and config.client(client) is None:
        raise ValidationFailed("client", f"{client!r} is not a client in the directory")
    service = clean_text(form.get("service"), "service", limit=200)
    if service and config.services and config.service(service) is None:
        raise ValidationFailed("service", f"{service!r} is not a configured service")
    return {
        "title": title,
        "description": clean_text(form.get("description"), "description", limit=MAX_TEXT),
        "impact": parse_level(form.get("impact") or "medium", "impact"),
        "urgency": parse_level(form.get("urgency") or "medium", "urgency"),
        "service": service, "client": client,
        "commander": person_choice(form.get("commander"), config),
        "drill": str(form.get("drill") or "").lower() in ("true", "1", "yes", "on"),
        "impact_started_at": impact_started_at(form.get("impact_date"), form.get("impact_time"), now=now, zone=zone),
    }


async def declare_incident(cmd: DeclareIncident, deps: Deps) -> Declared:
    """Declare, once per form: a second submit of a used form answers with what it made."""
    now = deps.clock.now()
    fields = parse_declaration(cmd.form, deps.config, now=now, zone=cmd.zone)
    incident = Incident.declare(
        priority=deps.config.matrix.priority(fields["impact"], fields["urgency"]),
        declared_by=cmd.actor, source=cmd.source, now=now, **fields)
    async with deps.uow() as uow:
        form = cmd.form_message
        if form is not None and (used := await claim_form(uow, form, now)) is not None:
            return Declared(used, again=True)
        if cmd.offer_similar:
            alike = similar_open(await uow.incidents.open(), title=incident.title, service=incident.service,
                                 drill=incident.drill)
            if alike is not None:
                raise SimilarIncidentOpen(alike)
        await uow.people.remember([cmd.actor], now)
        await declare_within(uow, incident, cmd.target, deps, now)
        if form is not None:
            await form_used(uow, form, incident, declared_text(incident), now)
        await uow.commit()
    return Declared(incident)
