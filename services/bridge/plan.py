"""Who a bridge can invite and ring, from the directory in BEACON_CONFIG and the incident. Pure.

Ticked by default: the client's contacts and account owner (customer-specific incidents), the
hosting provider's support (Microsoft), the service's team and the incident's responders. Other
vendors are listed unticked: the directory does not say which service depends on which vendor.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from services.bridge.model import Group, Invitee, aad_key, email_key
from services.config import BeaconConfig, PersonEntry, TeamEntry
from services.incidents import Incident, Person, ValidationFailed
from services.ports import CallTarget, MeetingRequest

MAX_EXTRA = 20
MAX_RING = 5  # Graph: a new group call rings at most 5 VoIP users
BRIDGE_LENGTH = timedelta(hours=2)  # the calendar slot; the Teams link keeps working afterwards
INPUT_IDS: dict[Group, str] = {group: f"invite_{group.value}" for group in Group if group is not Group.EXTRA}
EXTRA_INPUT = "invite_extra"
RING_INPUT = "ring"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def _entry(person: PersonEntry, group: Group, note: str = "", ticked: bool = True) -> Invitee | None:
    if person.email:
        key = email_key(person.email)
    elif person.aad_object_id:
        key = aad_key(person.aad_object_id)
    else:
        return None
    return Invitee(key, group, person.name, person.email.strip(), person.aad_object_id, note, ticked)


def _team_of(incident: Incident, config: BeaconConfig) -> TeamEntry | None:
    service = config.service(incident.service) if incident.service else None
    return next((t for t in config.directory.teams if service and t.name == service.team), None)


def _client_and_vendors(incident: Incident, config: BeaconConfig) -> Iterable[Invitee | None]:
    client = config.client(incident.client) if incident.client else None
    if client:
        yield from (_entry(c, Group.CLIENT, client.name) for c in client.contacts)
        if client.account_owner:
            yield _entry(client.account_owner, Group.CLIENT, f"account owner of {client.name}")
    for vendor in config.directory.vendors:
        hosting = vendor.kind == "hosting"
        group = Group.HOSTING if hosting else Group.VENDOR
        yield from (_entry(c, group, vendor.name, ticked=hosting) for c in vendor.contacts)


def _internal(incident: Incident, config: BeaconConfig, people: Mapping[str, Person]) -> Iterable[Invitee | None]:
    team = _team_of(incident, config)
    members = {m.aad_object_id: m for t in config.directory.teams for m in t.members if m.aad_object_id}
    if team:
        if team.email:
            yield Invitee(email_key(team.email), Group.TEAM, f"{team.name} team", team.email, note="team address")
        yield from (_entry(m, Group.TEAM, f"{team.name} team") for m in team.members)
    for person in (incident.commander, *incident.responders):
        if person is None:
            continue
        known = members.get(person.aad_object_id)
        name = person.name or (people[person.aad_object_id].name if person.aad_object_id in people else "")
        entry = PersonEntry(name=known.name if known else name, aad_object_id=person.aad_object_id,
                            email=known.email if known else "")
        role = "commander" if person == incident.commander else "responder"
        yield _entry(entry, Group.RESPONDERS, role)


def invitee_plan(incident: Incident, config: BeaconConfig,
                 people: Mapping[str, Person] | None = None) -> list[Invitee]:
    """Everyone the picker lists, each once (first listing wins), in picker order."""
    seen: set[str] = set()
    plan = []
    for invitee in (*_client_and_vendors(incident, config), *_internal(incident, config, people or {})):
        if invitee is None:
            continue
        ids = {invitee.key, email_key(invitee.email) if invitee.email else "",
               aad_key(invitee.aad_object_id) if invitee.aad_object_id else ""} - {""}
        if ids & seen:
            continue
        seen |= ids
        plan.append(invitee)
    return plan


def _values(raw: object) -> list[str]:
    return [v.strip() for v in str(raw or "").split(",") if v.strip()]


def parse_extra_emails(raw: object) -> list[Invitee]:
    """The free-text addresses: separated by commas, semicolons, spaces or new lines."""
    text = str(raw or "").strip()
    if len(text) > 4000:
        raise ValidationFailed(EXTRA_INPUT, "the extra addresses are longer than 4000 characters")
    addresses = list(dict.fromkeys(a for a in re.split(r"[,;\s]+", text) if a))
    bad = [a for a in addresses if len(a) > 254 or not _EMAIL.match(a)]
    if bad:
        raise ValidationFailed(EXTRA_INPUT, f"not an email address: {', '.join(a[:60] for a in bad[:3])}")
    if len(addresses) > MAX_EXTRA:
        raise ValidationFailed(EXTRA_INPUT, f"invite at most {MAX_EXTRA} extra addresses at a time")
    return [Invitee(email_key(a), Group.EXTRA, "", a) for a in addresses]


def _domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def invite_domains(config: BeaconConfig) -> frozenset[str] | None:
    """Where typed addresses may go: `bridge.allowed_invite_domains` and the domains of the
    directory's clients, vendors and teams; None when the setting is empty (anywhere)."""
    listed = config.bridge.allowed_invite_domains
    if not listed:
        return None
    directory = config.directory
    people = [*(c for client in directory.clients for c in client.contacts),
              *(client.account_owner for client in directory.clients if client.account_owner),
              *(c for vendor in directory.vendors for c in vendor.contacts),
              *(m for team in directory.teams for m in team.members)]
    domains = {d.strip().lower().lstrip("@") for d in listed}
    domains |= {d.strip().lower() for client in directory.clients for d in client.email_domains}
    domains |= {_domain(p.email) for p in people if p.email}
    domains |= {_domain(t.email) for t in directory.teams if t.email}
    return frozenset(d for d in domains if d)


def chosen_invitees(plan: list[Invitee], form: Mapping[str, object],
                    domains: frozenset[str] | None = None) -> list[Invitee]:
    """What the picker submitted: ticked entries of the plan (unknown values, e.g. from an older
    card, are ignored) plus valid typed addresses, each at one of `domains` when given."""
    ticked = {v.lower() for input_id in INPUT_IDS.values() for v in _values(form.get(input_id))}
    picked = [i for i in plan if i.key.lower() in ticked]
    keys = {i.key for i in picked}
    typed = [i for i in parse_extra_emails(form.get(EXTRA_INPUT)) if i.key not in keys]
    outside = [i.email for i in typed if domains is not None and _domain(i.email) not in domains]
    if outside:
        raise ValidationFailed(EXTRA_INPUT, f"Beacon invites only addresses at the directory's clients, vendors "
                                            f"and bridge.allowed_invite_domains; not {', '.join(outside[:3])}")
    return picked + typed


def ring_candidates(incident: Incident, config: BeaconConfig, people: Mapping[str, Person],
                    exclude: str = "") -> list[CallTarget]:
    """Internal people Graph can ring (same tenant): commander, responders, then the team."""
    team = _team_of(incident, config)
    found: dict[str, CallTarget] = {}
    for person in (incident.commander, *incident.responders):
        if person and person.aad_object_id:
            name = person.name or (people[person.aad_object_id].name if person.aad_object_id in people else "")
            found.setdefault(person.aad_object_id, CallTarget(person.aad_object_id, name))
    for member in team.members if team else []:
        if member.aad_object_id:
            found.setdefault(member.aad_object_id, CallTarget(member.aad_object_id, member.name))
    return [t for aad, t in found.items() if aad != exclude]


def chosen_ring_targets(candidates: list[CallTarget], form: Mapping[str, object]) -> list[CallTarget]:
    wanted = {v.lower() for v in _values(form.get(RING_INPUT))}
    targets = [c for c in candidates if c.aad_object_id.lower() in wanted]
    if not targets:
        raise ValidationFailed(RING_INPUT, "choose at least one responder to ring")
    if len(targets) > MAX_RING:
        raise ValidationFailed(RING_INPUT, f"Teams rings at most {MAX_RING} people in one call; "
                                           "invite the others to the bridge")
    return targets


def external_id(incident: Incident) -> str:
    """The incident, made unique across databases: a fresh Beacon's INC-1 never gets an old meeting."""
    return f"beacon-{incident.number}-{incident.declared_at:%Y%m%d%H%M%S}"


def meeting_request(incident: Incident, invitees: list[Invitee], now: datetime) -> MeetingRequest:
    title = html.escape(incident.title)
    where = " · ".join(html.escape(part) for part in (incident.service, incident.client) if part)
    body = (f"<p><b>{html.escape(incident.label)} ({incident.priority})</b>: {title}</p>"
            + (f"<p>{where}</p>" if where else "")
            + "<p>This is the incident bridge. Join with the Microsoft Teams link in this invitation, "
              "from Teams or a browser; the incident thread in Teams has the same link.</p>")
    return MeetingRequest(external_id=external_id(incident),
                          subject=f"{incident.label} bridge: {incident.title}"[:255], body_html=body,
                          start=now, end=now + BRIDGE_LENGTH,
                          attendees=tuple(i.recipient() for i in invitees if i.email))


def describe(invitees: Iterable[Invitee], limit: int = 8) -> str:
    names = [i.label for i in invitees]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "nobody"
