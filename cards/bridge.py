"""Bridge cards: the invitee picker, the bridge with Invite more and Ring responders, the Join
card and the failure cards in the thread, and what the incident card shows. All bridge wording
is here."""

from __future__ import annotations

from cards.elements import (
    Json,
    action_set,
    card,
    choice_set,
    container,
    execute,
    facts,
    input_text,
    open_url,
    plain,
    show_card,
    text,
    when,
)
from cards.incident import ViewExtras
from services.bridge.model import Bridge, BridgeCall, BridgeState, Group, Invitee
from services.bridge.plan import EXTRA_INPUT, INPUT_IDS, MAX_RING, RING_INPUT
from services.bridge.usecases import BridgeSetup, BridgeSituation
from services.incidents import Incident
from services.verbs import Verb

START = "Start bridge"
JOIN = "Join bridge"
SHOW = "Bridge"
BACK = "Back to the incident card"
GROUP_TITLES = {Group.CLIENT: "Client", Group.HOSTING: "Microsoft support (hosting provider)",
                Group.VENDOR: "Other vendors", Group.TEAM: "Assigned team", Group.RESPONDERS: "Responders"}
PICKER_INTRO = ("Beacon creates one Teams meeting for this incident and sends everyone ticked an invitation "
                "with the join link, so clients, Microsoft and vendors can join from their own "
                "organisation or a browser. The link is also posted in the incident thread.")
EXTRA_LABEL = "Other email addresses (comma or new line between them)"
GRAPH_MISSING = ("Microsoft Graph is not configured, so Beacon will record the bridge but cannot create the "
                 "meeting: {reason}. See “Bridge calls” in the README and infra/graph-permissions.md.")
CREATING = "Creating the bridge… Beacon posts the Join bridge card in the incident thread when Teams has the meeting."
EXISTS = "This incident already has its bridge; here it is."
INVITING = "Inviting {names}: they get a calendar invitation with the join link."
RINGING = "Ringing {names}. Their Teams rings; the call's progress goes on the timeline."
RING_RULES = (f"Teams rings at most {MAX_RING} people at once, in this organisation (and its guests). People of "
              "other organisations — the client, Microsoft, vendors — cannot be rung by Beacon: they join with "
              "the invitation.")
RING_NEEDS_URL = ("Ringing responders needs BEACON_PUBLIC_URL: Microsoft Graph reports the call to "
                  "https://<BEACON_PUBLIC_URL>/api/calls. Set it and restart Beacon.")
RING_NOT_CONFIGURED = "Ringing responders needs Microsoft Graph calling: {reason}."
NO_BRIDGE = "No bridge yet: press Start bridge on the incident card to create the Teams meeting."
NOBODY_TO_RING = "There is nobody else to ring: assign responders first."
RETRY = "The incident itself is unaffected. Press Start bridge on the incident card to try again."
FAILURE_TITLES = {"create": "The bridge could not be created", "invite": "Beacon could not invite more people",
                  "ring": "Beacon could not ring the responders"}
DEFAULT_FIXES = {"create": "check Beacon's Microsoft Graph settings and permissions (infra/graph-permissions.md)",
                 "invite": "check the addresses and the Calendars.ReadWrite permission (infra/graph-permissions.md)",
                 "ring": "check the calling bot registration (infra/graph-permissions.md#calling-bot-registration)"}
NOT_CONFIGURED_TITLE = "No bridge: Microsoft Graph is not configured"
HOW_TO_CONFIGURE = ("Set GRAPH_ACCESS_TOKEN (local development) or AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                    "AZURE_CLIENT_SECRET, and GRAPH_ORGANIZER_USER_ID (the mailbox that organises bridges); grant "
                    "Calendars.ReadWrite (infra/graph-permissions.md). Restart Beacon, then press Start bridge again.")


def _data(incident: Incident) -> Json:
    return {"incidentId": incident.id, "version": incident.version}


def _choice_title(invitee: Invitee) -> str:
    detail = " · ".join(part for part in (invitee.note, invitee.email) if part)
    return f"{invitee.label} ({detail})" if detail and invitee.name else invitee.label or detail


def _notice(message: str, *, error: bool = False) -> list[Json]:
    if not message:
        return []
    return [container([text(plain(message), weight="Bolder", color="attention" if error else "accent")],
                      style="emphasis")]


def _invitee_inputs(invitees: list[Invitee], form: dict[str, object] | None, *, ticked: bool) -> list[Json]:
    """One multi-select per group; `ticked` uses each invitee's default, else nothing is ticked."""
    body: list[Json] = []
    for group, title in GROUP_TITLES.items():
        members = [i for i in invitees if i.group is group]
        input_id = INPUT_IDS.get(group)
        if not members or input_id is None:
            continue
        value = ",".join(i.key for i in members if i.ticked) if ticked else ""
        if form is not None:
            value = str(form.get(input_id) or "")
        body.append(choice_set(input_id, title, [(_choice_title(i), i.key) for i in members], value=value,
                               compact=False, multi=True))
    extra = str(form.get(EXTRA_INPUT) or "") if form else ""
    body.append(input_text(EXTRA_INPUT, EXTRA_LABEL, value=extra, multiline=True, max_length=4000,
                           placeholder="ops@client.example, support@vendor.example"))
    return body


def picker_card(situation: BridgeSituation, setup: BridgeSetup, *, form: dict[str, object] | None = None,
                error: str = "") -> Json:
    incident = situation.incident
    body = [*_notice(error, error=True),
            text(f"Start a bridge for {incident.label}", size="Medium", weight="Bolder"),
            text(plain(incident.title), subtle=True, spacing="None"), text(PICKER_INTRO)]
    if setup.conferencing_problem:
        body.append(text(GRAPH_MISSING.format(reason=plain(setup.conferencing_problem)), color="warning"))
    body += _invitee_inputs(situation.plan, form, ticked=True)
    return card(body, [execute(START, Verb.BRIDGE_START, _data(incident), style="positive", inputs="auto"),
                       execute(BACK, Verb.REFRESH, _data(incident))])


def _meeting_facts(bridge: Bridge) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    meeting = bridge.meeting
    if meeting is not None:
        pairs.append(("Join", f"[Teams meeting]({meeting.join_url})"))
        if meeting.dial_in:
            pairs.append(("Dial-in", plain(meeting.dial_in)))
        if meeting.conference_id:
            pairs.append(("Conference ID", plain(meeting.conference_id)))
        if meeting.passcode:
            pairs.append(("Passcode", plain(meeting.passcode)))
    invited = [r.name or r.email for r in bridge.invited] or [i.label for i in bridge.invitees]
    pairs.append(("Invited", plain(", ".join(invited)) or "nobody by email"))
    started = bridge.requested_by.name if bridge.requested_by and bridge.requested_by.name else "someone"
    pairs.append(("Started", f"{when(bridge.created_at or bridge.requested_at)} by {plain(started)}"))
    return pairs


def _call_line(call: BridgeCall | None) -> list[Json]:
    if call is None:
        return []
    people = ", ".join(name for _, name in call.participants) or "nobody yet"
    return [text(f"Last call: {plain(call.state)} · in the call: {plain(people)}", subtle=True)]


def _ring_section(situation: BridgeSituation, setup: BridgeSetup) -> tuple[list[Json], list[Json]]:
    """Body lines and the Ring responders action (or why there is none)."""
    if setup.calling_problem:
        return [text(RING_NOT_CONFIGURED.format(reason=plain(setup.calling_problem)), subtle=True)], []
    if not setup.callback_uri:
        return [text(RING_NEEDS_URL, subtle=True)], []
    if not situation.ring:
        return [text(NOBODY_TO_RING, subtle=True)], []
    choices = [(t.name or t.aad_object_id, t.aad_object_id) for t in situation.ring]
    ticked = ",".join(t.aad_object_id for t in situation.ring[:MAX_RING])
    form = [text(RING_RULES, subtle=True),
            choice_set(RING_INPUT, "Ring", choices, value=ticked, compact=False, multi=True, required=True)]
    action = execute("Ring now", Verb.BRIDGE_RING, _data(situation.incident), style="positive", inputs="auto")
    return [], [show_card("Ring responders", form, [action])]


def _bridge_lines(situation: BridgeSituation) -> tuple[list[Json], list[Json]]:
    bridge, incident = situation.bridge, situation.incident
    if bridge is None:
        return [text(NO_BRIDGE)], []
    body: list[Json] = [text(CREATING)] if bridge.state is BridgeState.REQUESTED else []
    actions = [open_url(JOIN, bridge.meeting.join_url)] if bridge.meeting is not None else []
    body.append(facts(_meeting_facts(bridge)))
    more = [i for i in situation.plan if not bridge.is_invited(i)]
    actions.append(show_card("Invite more", _invitee_inputs(more, None, ticked=False), [
        execute("Send invitations", Verb.BRIDGE_INVITE, _data(incident), style="positive", inputs="auto")]))
    return body, actions


def bridge_card(situation: BridgeSituation, setup: BridgeSetup, *, notice: str = "", error: str = "") -> Json:
    """The incident's bridge: join link and dial-in, who is invited, Invite more, Ring responders."""
    incident = situation.incident
    body = [*_notice(error or notice, error=bool(error)),
            text(f"Bridge for {incident.label}", size="Medium", weight="Bolder"),
            text(plain(incident.title), subtle=True, spacing="None")]
    lines, actions = _bridge_lines(situation)
    ring_lines, ring_actions = _ring_section(situation, setup)
    body += [*lines, *_call_line(situation.call), *ring_lines,
             action_set([execute(BACK, Verb.REFRESH, _data(incident))])]
    return card(body, actions + ring_actions)


def join_card(incident: Incident, bridge: Bridge) -> Json:
    """Posted in the incident thread once the meeting exists."""
    assert bridge.meeting is not None
    body = [container([text(f"Bridge open for {incident.label}", weight="Bolder"),
                       text(plain(incident.title), spacing="None")], style="good"),
            facts(_meeting_facts(bridge))]
    return card(body, [open_url(JOIN, bridge.meeting.join_url)])


def failure_card(incident: Incident, what: str, error: str) -> Json:
    problem, _, fix = error.partition(" — ")
    fix = fix.removeprefix("fix: ") or DEFAULT_FIXES.get(what, DEFAULT_FIXES["create"])
    body = [container([text(f"{FAILURE_TITLES.get(what, FAILURE_TITLES['create'])} ({incident.label})",
                            weight="Bolder", color="attention"),
                       text(plain(problem))], style="attention"),
            text(f"**Fix:** {plain(fix)}"), text(RETRY if what == "create" else "The incident itself is unaffected.",
                                                   subtle=True)]
    return card(body)


def not_configured_card(incident: Incident, reason: str) -> Json:
    body = [container([text(f"{NOT_CONFIGURED_TITLE} ({incident.label})", weight="Bolder", color="warning"),
                       text(plain(reason))], style="warning"),
            text(HOW_TO_CONFIGURE), text("Recorded on the timeline as not sent.", subtle=True)]
    return card(body)


def incident_extras(bridge: Bridge | None, call: BridgeCall | None, setup_problem: str = "") -> ViewExtras:
    """What the incident card shows of the bridge. Without Microsoft Graph no bridge can exist, so
    responders are offered none and told nothing; incident admins see the problem and its fix."""
    if setup_problem and (bridge is None or bridge.state is BridgeState.NOT_CONFIGURED):
        return ViewExtras(problems=(f"{NOT_CONFIGURED_TITLE}: {setup_problem}. Fix: {HOW_TO_CONFIGURE}",))
    if bridge is None:
        return ViewExtras(buttons=((START, Verb.BRIDGE_FORM),))
    state = bridge.state
    if state is BridgeState.CREATED and bridge.meeting is not None:
        rows = [("Bridge", f"Teams meeting, {len(bridge.invited)} invited")]
        if bridge.meeting.dial_in:
            rows.append(("Bridge dial-in", bridge.meeting.dial_in))
        if call is not None:
            rows.append(("Call", f"{call.state}, {len(call.participants)} in the call"))
        return ViewExtras(facts=tuple(rows), links=((JOIN, bridge.meeting.join_url),),
                          buttons=((SHOW, Verb.BRIDGE_FORM),))
    if state is BridgeState.REQUESTED:
        return ViewExtras(facts=(("Bridge", "being created…"),), buttons=((SHOW, Verb.BRIDGE_FORM),))
    if state is BridgeState.NOT_CONFIGURED:  # Graph has been set up since: it can be started now
        return ViewExtras(buttons=((START, Verb.BRIDGE_FORM),))
    return ViewExtras(facts=(("Bridge", "could not be created (the thread says why)"),),
                      buttons=((START, Verb.BRIDGE_FORM),))
