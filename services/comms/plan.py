"""The communication plan as pure functions: who hears about an incident, and what they read."""

from __future__ import annotations

from dataclasses import dataclass

from services.comms import messages
from services.comms.messages import RESPONDERS, STAKEHOLDERS, stakeholder_owner
from services.config import BeaconConfig, PersonEntry
from services.dedupe import unique_by
from services.incidents import Incident, Level, Person, TimelineEvent
from services.incidents.model import MAX_TEXT
from services.paging.escalation import declared_by_alert
from services.ports import Recipient

__all__ = ["RESPONDERS", "STAKEHOLDERS", "stakeholder_owner"]  # the audiences and their owner, from messages
QUIET_KINDS = {"update_reminder", "delivery_sent", "delivery_failed", "delivery_skipped", "notified"}
CHANGES_SHOWN = 6  # the latest changes an automatic update lists
# What only the team reads (notes are guesses and working thoughts): never in an automatic update
# for stakeholders, who include a client's contacts.
INTERNAL_KINDS = frozenset({"note", "refused"})


@dataclass(frozen=True)
class Routes:
    """Where the initial notification, stakeholder updates and the resolution notice go."""

    stakeholder_emails: tuple[Recipient, ...]
    team_emails: tuple[Recipient, ...]
    sms_numbers: tuple[str, ...]

    def to_dict(self) -> dict[str, list[object]]:
        return {"stakeholder_emails": [[r.email, r.name] for r in self.stakeholder_emails],
                "team_emails": [[r.email, r.name] for r in self.team_emails],
                "sms_numbers": list(self.sms_numbers)}

    @classmethod
    def from_dict(cls, data: dict[str, list[list[str]] | list[str]]) -> Routes:
        return cls(tuple(Recipient(*r) for r in data.get("stakeholder_emails", [])),  # type: ignore[misc]
                   tuple(Recipient(*r) for r in data.get("team_emails", [])),  # type: ignore[misc]
                   tuple(str(n) for n in data.get("sms_numbers", [])))


def _recipients(people: list[PersonEntry]) -> list[Recipient]:
    return [Recipient(p.email, p.name) for p in people if p.email]


def _unique(recipients: list[Recipient]) -> tuple[Recipient, ...]:
    return tuple(unique_by(recipients, lambda recipient: recipient.email))


def responder_owner(incident: Incident) -> Person:
    """The commander; else, for an incident Beacon declared from an alert, whoever acknowledged its
    page (Beacon cannot write updates); else the declarer."""
    if incident.commander is not None:
        return incident.commander
    if declared_by_alert(incident) and incident.acknowledged_by is not None:
        return incident.acknowledged_by
    return incident.declared_by


def routes_for(incident: Incident, config: BeaconConfig) -> Routes:
    client = config.client(incident.client) if incident.client else None
    owner, _ = stakeholder_owner(incident, config)
    if client:
        stakeholders = _recipients(client.contacts + ([owner] if owner else []))
    else:
        stakeholders = _recipients(config.directory.stakeholders + ([owner] if owner else []))
    service = config.service(incident.service) if incident.service else None
    team = next((t for t in config.directory.teams if service and t.name == service.team), None)
    team_emails = ([Recipient(team.email, team.name)] if team and team.email else []) + (
        _recipients(team.members) if team else [])
    numbers: list[str] = []
    if incident.impact is Level.HIGH:
        people = (client.contacts if client else config.directory.stakeholders) + (team.members if team else [])
        numbers = [p.phone for p in people if p.phone]
    return Routes(_unique(stakeholders), _unique(team_emails), tuple(dict.fromkeys(numbers)))


def changes_since_last_update(timeline: list[TimelineEvent], audience: str = RESPONDERS) -> list[TimelineEvent]:
    """What happened since the audience's own last update (another audience's does not count)."""
    last = max((i for i, e in enumerate(timeline) if e.kind == "status_update"
                and (e.after or {}).get("audience", RESPONDERS) == audience), default=-1)
    return [e for e in timeline[last + 1:] if e.kind not in QUIET_KINDS | {"status_update"}]


def _plain_change(event: TimelineEvent) -> str:
    """A change in words a stakeholder reads: the status and the priority, never who did what."""
    after = event.after or {}
    if event.kind in ("status_changed", "reopened"):
        return f"the status moved to {after.get('status')}"
    if event.kind == "priority_changed":
        return f"the priority is now {after.get('priority')}"
    return ""


def automatic_update_text(incident: Incident, timeline: list[TimelineEvent], audience: str = RESPONDERS) -> str:
    """The draft of a due update and, if nobody posts one, the update itself. Responders read the
    timeline since their last update; stakeholders only the status in plain words and how it
    changed since their own last update (never notes, names or the team's guesses)."""
    changes = changes_since_last_update(timeline, audience)
    if audience == RESPONDERS:
        summaries = [e.summary for e in changes]
        lines = [f"{incident.number} is {incident.status.value} at {incident.priority}."]
        lines += [f"Since the last update: {'; '.join(summaries[-CHANGES_SHOWN:])}."] if summaries else [
            "No change since the last update."]
    else:
        said = list(dict.fromkeys(c for c in (_plain_change(e) for e in changes if e.kind not in INTERNAL_KINDS)
                                  if c))
        lines = [messages.DOING[incident.status]]
        lines += [f"Since the last update, {'; '.join(said[-CHANGES_SHOWN:])}."] if said else [
            "Nothing has changed since the last update."]
    text = " ".join(lines)
    # Long notes could make it longer than an update may be, and the update would never go out.
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
