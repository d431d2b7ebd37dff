"""The incident and its lifecycle: pure domain, no I/O, no clock reads (`now` is passed in).

Every change appends one TimelineEvent to `pending_events`; the unit of work writes them in the
same transaction as the incident row, so the timeline is the single record of what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.incidents.errors import InvalidTransition, ValidationFailed


class Level(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Status(StrEnum):
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    FIXING = "fixing"
    VERIFYING = "verifying"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"


# The lifecycle as a table the domain checks. Moving backwards is allowed where real incidents do
# it (a fix that fails verification goes back to fixing; monitoring that sees trouble goes back to
# investigating). RESOLVED is reached only through `resolve`, which needs a summary.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.TRIAGE: frozenset({Status.INVESTIGATING, Status.FIXING, Status.RESOLVED}),
    Status.INVESTIGATING: frozenset({Status.FIXING, Status.MONITORING, Status.RESOLVED}),
    Status.FIXING: frozenset({Status.VERIFYING, Status.INVESTIGATING, Status.RESOLVED}),
    Status.VERIFYING: frozenset({Status.MONITORING, Status.FIXING, Status.RESOLVED}),
    Status.MONITORING: frozenset({Status.RESOLVED, Status.INVESTIGATING, Status.FIXING}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.INVESTIGATING}),
    Status.CLOSED: frozenset(),
}

AUDIENCES = ("responders", "stakeholders")
# How an acknowledgement came, as the card and the timeline say it.
ACK_VIA = {"card": "incident card", "teams": "Teams page", "sms_link": "SMS link", "email_link": "email link",
           "voice": "phone call", "change": "first change", "command": "took command"}
OPEN_STATUSES = frozenset(s for s in Status if s not in (Status.RESOLVED, Status.CLOSED))


@dataclass(frozen=True)
class Person:
    """Someone in Teams. `aad_object_id` identifies them; `user_id` is the Teams MRI (29:...)."""

    aad_object_id: str
    name: str = ""
    user_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"aad_object_id": self.aad_object_id, "name": self.name, "user_id": self.user_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Person:
        return cls(aad_object_id=data["aad_object_id"], name=data.get("name") or "",
                   user_id=data.get("user_id"))


@dataclass(frozen=True)
class TimelineEvent:
    kind: str
    at: datetime
    actor: Person | None
    summary: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


MAX_TITLE = 200
MAX_TEXT = 4000


def clean_text(value: object, field_name: str, *, limit: int, required: bool = False) -> str:
    """Trim user text and refuse what cannot be stored or shown sensibly."""
    if value is not None and not isinstance(value, str | int | float):
        raise ValidationFailed(field_name, f"{field_name} must be text")
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValidationFailed(field_name, f"{field_name} is required")
    if len(text) > limit:
        raise ValidationFailed(field_name, f"{field_name} is longer than {limit} characters")
    return text


def parse_level(value: object, field_name: str) -> Level:
    try:
        return Level(str(value).lower())
    except ValueError:
        raise ValidationFailed(field_name, f"{field_name} must be high, medium or low") from None


@dataclass
class Incident:
    id: int | None
    title: str
    description: str
    impact: Level
    urgency: Level
    priority: str
    status: Status
    service: str
    client: str
    declared_by: Person
    declared_at: datetime
    source: str = "chat"
    drill: bool = False  # a training incident: flagged everywhere, never reaches outside parties
    commander: Person | None = None
    responders: tuple[Person, ...] = ()
    acknowledged_at: datetime | None = None
    acknowledged_by: Person | None = None
    acknowledged_via: str = ""  # how: card, teams (the personal page), sms_link, email_link, voice, change
    resolved_at: datetime | None = None
    resolution_summary: str = ""
    last_update_at: datetime | None = None
    next_update_due: datetime | None = None
    impact_started_at: datetime | None = None  # when people were first affected, if the declarer knew
    version: int = 1
    pending_events: list[TimelineEvent] = field(default_factory=list, repr=False)

    @property
    def number(self) -> str:
        return f"INC-{self.id}" if self.id is not None else "INC-?"

    @property
    def label(self) -> str:
        """The number as shown to people: drills say so everywhere."""
        return f"DRILL {self.number}" if self.drill else self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def _record(self, kind: str, at: datetime, actor: Person | None, summary: str,
                before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
        self.pending_events.append(TimelineEvent(kind, at, actor, summary, before, after))

    # -- declaration -------------------------------------------------------------------------
    @classmethod
    def declare(cls, *, title: str, description: str, impact: Level, urgency: Level, priority: str,
                service: str, client: str, declared_by: Person, commander: Person | None,
                source: str, now: datetime, drill: bool = False,
                impact_started_at: datetime | None = None) -> Incident:
        if impact_started_at is not None and impact_started_at > now:
            raise ValidationFailed("impact_started_at", "the impact cannot start after the declaration")
        incident = cls(id=None, title=title, description=description, impact=impact, urgency=urgency,
                       priority=priority, status=Status.TRIAGE, service=service, client=client,
                       declared_by=declared_by, declared_at=now, source=source, commander=commander,
                       drill=drill, impact_started_at=impact_started_at)
        what = "a DRILL" if drill else priority
        incident._record("declared", now, declared_by, f"declared {what}: {title}",
                         after=incident.snapshot())
        incident.last_update_at = now  # the declaration is the first notification
        return incident

    def snapshot(self) -> dict[str, Any]:
        """The fields a reader cares about, for before/after on the timeline."""
        return {
            "title": self.title, "status": self.status.value, "priority": self.priority,
            "impact": self.impact.value, "urgency": self.urgency.value, "service": self.service,
            "client": self.client, "drill": self.drill,
            "commander": self.commander.to_dict() if self.commander else None,
            "responders": [p.to_dict() for p in self.responders],
        }

    # -- roles -------------------------------------------------------------------------------
    def acknowledge(self, actor: Person, now: datetime, via: str = "card", page: dict[str, Any] | None = None) -> None:
        """`via` says how (ACK_VIA); `page` names the page answered (level, round), when one was."""
        if self.acknowledged_at is not None:
            raise InvalidTransition(f"{self.number} was already acknowledged by "
                                    f"{self.acknowledged_by.name if self.acknowledged_by else 'someone'}")
        self._require_open("acknowledge")
        self.acknowledged_at, self.acknowledged_by, self.acknowledged_via = now, actor, via
        how = f" ({ACK_VIA.get(via, via)})" if via != "card" else ""  # the card is the usual way: unsaid
        self._record("acknowledged", now, actor, f"{actor.name} acknowledged{how}",
                     after={"via": via, **(page or {})})

    def take_command(self, actor: Person, now: datetime) -> None:
        self._require_open("take command of")
        if self.commander and self.commander.aad_object_id == actor.aad_object_id:
            raise InvalidTransition(f"{actor.name} is already the commander")
        before = self.commander.to_dict() if self.commander else None
        self.commander = actor
        if self.acknowledged_at is None:
            self.acknowledged_at, self.acknowledged_by, self.acknowledged_via = now, actor, "command"
        self._record("commander_changed", now, actor, f"{actor.name} took command",
                     before={"commander": before}, after={"commander": actor.to_dict()})

    def assign_responders(self, people: tuple[Person, ...], actor: Person, now: datetime) -> None:
        """Add responders (assigning is additive, so two people assigning at once lose nothing)."""
        self._require_open("assign responders to")
        known = {p.aad_object_id for p in self.responders}
        added = tuple(p for p in dict.fromkeys(people) if p.aad_object_id not in known)
        if not added:
            raise ValidationFailed("responders", "everyone chosen is already a responder")
        before = [p.to_dict() for p in self.responders]
        self.responders = self.responders + added
        unnamed = sum(1 for p in added if not p.name)  # picked by id, name not known yet: never show the id
        names = ", ".join([p.name for p in added if p.name]
                          + ([f"{unnamed} person(s) Beacon has not met yet"] if unnamed else []))
        self._record("responders_assigned", now, actor, f"{actor.name} assigned {names}",
                     before={"responders": before},
                     after={"responders": [p.to_dict() for p in self.responders]})

    # -- triage ------------------------------------------------------------------------------
    def reassess(self, impact: Level, urgency: Level, priority: str, actor: Person, now: datetime) -> None:
        self._require_open("re-assess")
        if (impact, urgency) == (self.impact, self.urgency):
            raise ValidationFailed("impact", f"impact and urgency are already {impact} and {urgency}")
        before = {"impact": self.impact.value, "urgency": self.urgency.value, "priority": self.priority}
        self.impact, self.urgency, self.priority = impact, urgency, priority
        after = {"impact": impact.value, "urgency": urgency.value, "priority": priority}
        self._record("priority_changed", now, actor,
                     f"{actor.name} re-assessed: {before['priority']} → {priority} "
                     f"(impact {impact}, urgency {urgency})", before=before, after=after)

    # -- lifecycle ---------------------------------------------------------------------------
    def move_to(self, status: Status, actor: Person, now: datetime) -> None:
        if status is Status.RESOLVED:
            raise ValidationFailed("status", "resolving needs a resolution summary: use Resolve")
        if status is Status.CLOSED and self.status is not Status.RESOLVED:
            raise InvalidTransition(f"{self.number} must be resolved before it is closed")
        self._check_transition(status)
        before = self.status
        self.status = status
        kind = ("closed" if status is Status.CLOSED
                else "reopened" if before is Status.RESOLVED else "status_changed")
        if kind == "reopened":
            self.resolved_at, self.resolution_summary = None, ""
        self._record(kind, now, actor, f"{actor.name} moved it from {before} to {status}",
                     before={"status": before.value}, after={"status": status.value})

    def resolve(self, summary: object, actor: Person, now: datetime) -> None:
        text = clean_text(summary, "summary", limit=MAX_TEXT, required=True)
        self._check_transition(Status.RESOLVED)
        before = self.status
        self.status, self.resolved_at, self.resolution_summary = Status.RESOLVED, now, text
        self._record("resolved", now, actor, f"{actor.name} resolved it: {text}",
                     before={"status": before.value}, after={"status": "resolved", "summary": text})

    def add_note(self, text: object, actor: Person, now: datetime) -> None:
        note = clean_text(text, "note", limit=MAX_TEXT, required=True)
        if self.status is Status.CLOSED:
            raise InvalidTransition(f"{self.number} is closed")
        self._record("note", now, actor, note)

    # -- communication -----------------------------------------------------------------------
    def post_update(self, text: object, audience: str, actor: Person | None, now: datetime, *,
                    automatic: bool = False, late: bool = False) -> None:
        """A status update for responders (thread) or stakeholders (channel, email)."""
        update = clean_text(text, "update", limit=MAX_TEXT, required=True)
        if audience not in AUDIENCES:
            raise ValidationFailed("audience", "audience must be responders or stakeholders")
        if not self.is_open and not automatic:
            raise InvalidTransition(f"{self.number} is {self.status}; its updates have stopped")
        who = "Beacon (automatic)" if automatic else (actor.name if actor else "someone")
        self._record("status_update", now, actor, f"{audience} update by {who}: {update}",
                     after={"audience": audience, "text": update, "automatic": automatic, "late": late})
        self.last_update_at = now

    def note_missed_update(self, audience: str, owner: str, now: datetime) -> None:
        self._record("update_missed", now, None,
                     f"{owner} did not post the {audience} update in time; Beacon posted it")

    def allowed_next(self) -> list[Status]:
        order = list(Status)
        return sorted((s for s in TRANSITIONS[self.status] if s is not Status.RESOLVED),
                      key=order.index)

    def _check_transition(self, target: Status) -> None:
        if target not in TRANSITIONS[self.status]:
            raise InvalidTransition(f"{self.number} cannot go from {self.status} to {target}")

    def _require_open(self, what: str) -> None:
        if not self.is_open:
            raise InvalidTransition(f"cannot {what} {self.number}: it is {self.status}")

    def copy(self) -> Incident:
        return replace(self, pending_events=[])
