"""Who may press which button: one table from every card verb to the roles allowed to use it.

The card-action router asks `decide` once, before any handler runs, with the authenticated sender
(never card data) and what the click is about, as stored. Pure: no I/O, no clock.

Roles a person can hold for a click:
- unknown: not in the team roster Beacon keeps yet (it is being looked up in the background);
  treated as `roles.unknown_people` says (read-only by default).
- guest: a Teams guest, or someone of another organisation in a shared channel.
- member: anyone else of the organisation.
- responder: a member of a team in `directory.teams`, an incident admin, or the incident's
  declarer, commander or an assigned responder.
- commander: the incident's commander; while an incident has none, any responder (and, unless
  `roles.restrict_to_responders` is on, any member) stands in.
- report owner: who was asked for the post-incident report; for a follow-up action, its owner.
- admin: `roles.incident_admins`.
Guests and unknown people hold no role but admin beside their own. With
`roles.restrict_to_responders: true`, "member" no longer qualifies for anything but declaring.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.config import BeaconConfig
from services.incidents import Incident, Person
from services.verbs import Verb

SYSTEM_ACTOR = "beacon"
# Who Beacon is on the timeline when it acts on its own (an alert, an automatic update or close):
# never refused by anyone's rights.
BEACON = Person(SYSTEM_ACTOR, "Beacon")


class Role(StrEnum):
    UNKNOWN = "unknown"
    GUEST = "guest"
    MEMBER = "member"
    RESPONDER = "responder"
    COMMANDER = "commander"
    OWNER = "report owner"
    ADMIN = "admin"


class Standing(StrEnum):
    """What the roster says about a sender, whatever the incident."""

    UNKNOWN = "unknown"
    GUEST = "guest"
    MEMBER = "member"


@dataclass(frozen=True)
class Rule:
    who: frozenset[Role]
    what: str  # how a refusal names the act: "resolve", "start a bridge for"
    guests_posting: bool = False  # guests too when `roles.guests: post_updates`
    restrictable: bool = True  # `restrict_to_responders` takes "member" out of `who`
    outside_addresses: bool = False  # typed addresses (people outside the directory) need a responder


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


ANYONE = frozenset(Role)
MEMBERS = _roles(Role.MEMBER, Role.RESPONDER, Role.COMMANDER, Role.ADMIN)
RESPONDERS = _roles(Role.RESPONDER, Role.COMMANDER, Role.ADMIN)
COMMAND = _roles(Role.COMMANDER, Role.ADMIN)
OWNERS = _roles(Role.OWNER, Role.COMMANDER, Role.ADMIN)
REPORT_OWNERS = _roles(Role.OWNER, Role.ADMIN)
PAGERS = _roles(Role.RESPONDER, Role.ADMIN)  # an incident's commander is one of its responders

POLICY: dict[Verb, Rule] = {
    Verb.DECLARE_FORM: Rule(MEMBERS, "declare an incident", restrictable=False),
    Verb.DECLARE_SUBMIT: Rule(MEMBERS, "declare an incident", restrictable=False),
    Verb.DECLARE_JOIN: Rule(MEMBERS, "join", restrictable=False),  # instead of declaring
    Verb.REFRESH: Rule(ANYONE, "read", restrictable=False),
    Verb.ACKNOWLEDGE: Rule(MEMBERS, "acknowledge"),
    Verb.TAKE_COMMAND: Rule(COMMAND, "change the commander of"),
    Verb.REASSESS: Rule(MEMBERS, "reassess"),
    Verb.ASSIGN: Rule(MEMBERS, "assign responders to"),
    Verb.STATUS: Rule(MEMBERS, "change the status of"),
    Verb.NOTE: Rule(MEMBERS, "add a note to"),
    Verb.POST_UPDATE: Rule(MEMBERS, "post an update on", guests_posting=True),
    Verb.RESOLVE: Rule(COMMAND, "resolve"),
    Verb.REOPEN: Rule(MEMBERS, "reopen"),
    Verb.CLOSE: Rule(COMMAND, "close"),
    Verb.BRIDGE_FORM: Rule(MEMBERS, "see the bridge of"),
    Verb.BRIDGE_START: Rule(MEMBERS, "start a bridge for", outside_addresses=True),
    Verb.BRIDGE_INVITE: Rule(MEMBERS, "invite people to the bridge of", outside_addresses=True),
    Verb.BRIDGE_RING: Rule(RESPONDERS, "ring people for"),
    Verb.REPORT_DECLARE: Rule(MEMBERS, "declare an incident from a reported issue"),
    Verb.REPORT_MERGE: Rule(MEMBERS, "merge a reported issue"),
    Verb.REPORT_DISMISS: Rule(MEMBERS, "dismiss a reported issue"),
    # Linking decides which customers hear an incident's public updates: like merging, for members.
    Verb.REPORT_LINK: Rule(MEMBERS, "link a reported issue to an incident"),
    Verb.REPORT_UNLINK: Rule(MEMBERS, "unlink a reported issue"),
    Verb.REVIEW_REPORT_FORM: Rule(OWNERS, "complete the report of"),
    Verb.REVIEW_REPORT_ADD_ROW: Rule(OWNERS, "complete the report of"),
    Verb.REVIEW_REPORT_SUBMIT: Rule(OWNERS, "complete the report of"),
    Verb.REVIEW_SCHEDULE: Rule(OWNERS | RESPONDERS, "schedule the review of"),
    Verb.REVIEW_HELD: Rule(OWNERS, "record the review of"),
    Verb.REVIEW_ACTION_COMPLETE: Rule(OWNERS, "complete a follow-up action of"),
    # What the client reads is the report owner's word (the Account Owner for a client's incident):
    # not the commander's, who may not know what was promised to the client.
    Verb.REVIEW_CLIENT_APPROVE: Rule(REPORT_OWNERS, "approve the customer summary of"),
    Verb.REVIEW_CLIENT_EDIT: Rule(REPORT_OWNERS, "edit the customer summary of"),
    Verb.REVIEW_CLIENT_SAVE: Rule(REPORT_OWNERS, "edit the customer summary of"),
    # Who is on call is for the organisation, not guests; changing it, for the people who take
    # pages (directory teams) and admins, as ops teams expect of a rota.
    Verb.ONCALL_SHOW: Rule(MEMBERS, "see who is on call", restrictable=False),
    Verb.ONCALL_OVERRIDE_FORM: Rule(PAGERS, "override who is on call"),
    Verb.ONCALL_OVERRIDE: Rule(PAGERS, "override who is on call"),
    Verb.ONCALL_OVERRIDE_CLEAR: Rule(PAGERS, "remove an on-call override"),
    # Paging wakes someone up: the incident's responders (its declarer and commander among them),
    # the directory's teams and admins; not a member standing in while nobody commands.
    Verb.PAGE: Rule(PAGERS, "page people for"),
}


@dataclass(frozen=True)
class Sender:
    """The authenticated sender of a click, and what the roster says of them."""

    person: Person
    standing: Standing
    email: str = ""


@dataclass(frozen=True)
class Subject:
    """What a click is about, as stored: its incident, and the owner of its report or action."""

    incident: Incident | None = None
    owner_aad: str = ""
    owner_email: str = ""
    commander_name: str = ""  # as the people store knows it, for the reason of a refusal


def roles_of(sender: Sender, subject: Subject, config: BeaconConfig) -> frozenset[Role]:
    aad = sender.person.aad_object_id
    roles = {Role.ADMIN} if aad in config.roles.incident_admins else set()
    if sender.standing is not Standing.MEMBER:
        return frozenset(roles | {Role(sender.standing.value)})
    roles.add(Role.MEMBER)
    incident = subject.incident
    involved = {p.aad_object_id for p in (incident.declared_by, incident.commander, *incident.responders)
                if p} if incident else set()
    team_members = {m.aad_object_id for team in config.directory.teams for m in team.members if m.aad_object_id}
    if Role.ADMIN in roles or aad in involved | team_members:
        roles.add(Role.RESPONDER)
    if incident is not None:
        if incident.commander is not None:
            if incident.commander.aad_object_id == aad:
                roles.add(Role.COMMANDER)
        elif Role.RESPONDER in roles or not config.roles.restrict_to_responders:
            roles.add(Role.COMMANDER)  # nobody commands yet: whoever may act stands in
    email = sender.email.strip().lower()
    if (subject.owner_aad and subject.owner_aad == aad) or (
            email and subject.owner_email and subject.owner_email.strip().lower() == email):
        roles.add(Role.OWNER)
    return frozenset(roles)


def allowed_roles(rule: Rule, config: BeaconConfig) -> frozenset[Role]:
    """`rule.who` under this deployment's settings."""
    who = set(rule.who)
    if rule.guests_posting and config.roles.guests == "post_updates":
        who.add(Role.GUEST)
    if config.roles.unknown_people == "member" and Role.MEMBER in who:
        who.add(Role.UNKNOWN)
    if rule.restrictable and config.roles.restrict_to_responders:
        who -= {Role.MEMBER, Role.UNKNOWN}
    return frozenset(who)


def decide(verb: Verb, sender: Sender, subject: Subject, config: BeaconConfig) -> str:
    """Why this sender may not do this, or '' when they may."""
    if sender.person.aad_object_id == SYSTEM_ACTOR:
        return ""
    rule = POLICY[verb]
    roles = roles_of(sender, subject, config)
    if roles & allowed_roles(rule, config):
        return ""
    return _reason(rule, roles, subject, config)


def may_invite_outside(sender: Sender, subject: Subject, config: BeaconConfig) -> bool:
    """Typed addresses reach people outside the directory: only responders may send them."""
    return sender.person.aad_object_id == SYSTEM_ACTOR or bool(
        roles_of(sender, subject, config) & RESPONDERS)


def _reason(rule: Rule, roles: frozenset[Role], subject: Subject, config: BeaconConfig) -> str:
    incident = subject.incident
    label = incident.label if incident else ""
    target = f"{rule.what} {label}".strip()
    if Role.GUEST in roles:
        if incident is None:
            return f"guests can follow incidents but cannot {rule.what}"
        can = "read and post updates on" if config.roles.guests == "post_updates" else "read"
        return f"guests can only {can} {label}"
    if Role.UNKNOWN in roles:
        return ("Beacon is still checking your membership of this team (a moment after your first "
                "click); until then you can only read. Try again in a minute")
    allowed = allowed_roles(rule, config)
    if allowed <= COMMAND | {Role.OWNER}:
        names = []
        if Role.COMMANDER in allowed:
            commander = incident.commander if incident else None
            name = subject.commander_name or (commander.name if commander else "")
            names.append(f"the commander ({name or 'assigned'})" if commander else "the commander")
        if Role.OWNER in allowed:
            names.append("the report owner" if "action" not in rule.what else "the action's owner")
        names.append("an incident admin")
        return f"only {', '.join(names[:-1])} or {names[-1]} can {target}"
    return f"only responders can {target}"


ROLE_ORDER = (Role.GUEST, Role.UNKNOWN, Role.MEMBER, Role.RESPONDER, Role.COMMANDER, Role.OWNER, Role.ADMIN)


def _notes(rule: Rule) -> str:
    notes = []
    if rule.restrictable and Role.MEMBER in rule.who:
        notes.append("member: not with `restrict_to_responders`")
    if rule.guests_posting:
        notes.append("guest too with `roles.guests: post_updates`")
    if rule.outside_addresses:
        notes.append("typed addresses outside the directory: responder, commander or admin")
    return "; ".join(notes)


def markdown_table() -> str:
    """The policy as the README shows it (a test keeps the two equal)."""
    rows = ["| verb | who may | notes |", "|---|---|---|"]
    for verb, rule in POLICY.items():
        who = "anyone" if rule.who == ANYONE else ", ".join(r.value for r in ROLE_ORDER if r in rule.who)
        rows.append(f"| `{verb.value}` | {who} | {_notes(rule)} |")
    return "\n".join(rows)
