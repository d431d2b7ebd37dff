"""Every card verb × every kind of person, clicked through /api/messages as Teams sends it: each
click is either refused (a Universal Action error saying "Not allowed", nothing changed) or gets
past the policy to its handler. The expected answers are written out here, not read from the
policy module, and a verb missing from them fails the test."""

from __future__ import annotations

from typing import Any

import pytest

from services.config import parse_config
from services.verbs import Verb
from tests.e2e.conftest import E2E_CONFIG, Stack, start_stack
from tests.e2e.helpers import act, declare, settled
from tests.teams_activities import Person, Users, card_action_invoke

ADA = Person.named("Ada Admin")  # roles.incident_admins
CORA = Person.named("Cora Commander")  # INC-1's commander, in no directory team
BOB = Users.BOB  # a member of the payments team in the directory: a responder
PRIYA = Person.named("Priya Head")  # the product head: owner of INC-1's report and its follow-up action
DAN = Users.DAN  # a member of the organisation, nothing more
GINA = Person.named("Gina Guest")  # a Teams guest

PEOPLE = {"guest": GINA, "member": DAN, "responder": BOB, "commander": CORA, "owner": PRIYA, "admin": ADA}
MEMBERS = "member responder commander admin"
COMMAND = "commander admin"
OWNERS = "owner commander admin"

# verb -> who gets past the policy, with the default roles config
EXPECTED: dict[str, str] = {
    "declare.form": MEMBERS + " owner", "declare.submit": MEMBERS + " owner", "declare.join": MEMBERS + " owner",
    "incident.refresh": "guest " + MEMBERS + " owner",
    "incident.ack": MEMBERS + " owner", "incident.take_command": COMMAND,
    "incident.reassess": MEMBERS + " owner", "incident.assign": MEMBERS + " owner",
    "incident.status": MEMBERS + " owner", "incident.note": MEMBERS + " owner",
    "incident.post_update": MEMBERS + " owner", "incident.resolve": COMMAND,
    "incident.reopen": MEMBERS + " owner", "incident.close": COMMAND,
    "bridge.form": MEMBERS + " owner", "bridge.start": MEMBERS + " owner", "bridge.invite": MEMBERS + " owner",
    "bridge.ring": "responder commander admin",
    "report.declare": MEMBERS + " owner", "report.merge": MEMBERS + " owner", "report.dismiss": MEMBERS + " owner",
    "report.link": MEMBERS + " owner", "report.unlink": MEMBERS + " owner",
    "review.report_form": OWNERS, "review.report_add_row": OWNERS, "review.report_submit": OWNERS, "review.schedule": "owner responder commander admin",
    "review.held": OWNERS, "review.action_complete": OWNERS,
    # what a client reads is the report owner's word, not the commander's
    "review.client_approve": "owner admin", "review.client_edit": "owner admin", "review.client_save": "owner admin",
    # who is on call is for the organisation; changing it is for the on-call teams and admins
    "oncall.show": MEMBERS + " owner", "oncall.override_form": "responder admin",
    "oncall.override": "responder admin", "oncall.override_clear": "responder admin",
    "page.person": "responder commander admin",
}
# with roles.restrict_to_responders: true, plain members (the report owner included) only declare
# and read; what owners may do for the review stays theirs
RESTRICTED: dict[str, str] = {verb: " ".join(w for w in who.split() if w not in ("member", "owner"))
                              if not verb.startswith(("declare.", "incident.refresh", "review.", "oncall.show"))
                              else who
                              for verb, who in EXPECTED.items()}
# a reported issue has no incident yet: its responders are the directory's teams and the admins
RESTRICTED.update({verb: "responder admin" for verb in ("report.declare", "report.merge", "report.dismiss",
                                                         "report.link", "report.unlink")})

# What each click carries. Clicks that get past the policy must change nothing that decides a role:
# a stale version (0) for verbs that conflict with INC-1's history, invalid values elsewhere.
DATA: dict[str, dict[str, Any]] = {
    "incident.assign": {"responders": ""}, "incident.status": {"status": "monitoring"},
    "incident.reassess": {"impact": "low", "urgency": "low"}, "incident.note": {"note": "checking"},
    "incident.post_update": {"audience": "responders", "update": "still on it"},
    "incident.resolve": {"summary": "again"}, "declare.submit": {"title": ""},
    "report.declare": {"ticketId": "999"}, "report.merge": {"ticketId": "999", "incidentId": "1"},
    "report.dismiss": {"ticketId": "999", "reason": "noise"}, "report.link": {"ticketId": "999", "incidentId": "1"},
    "report.unlink": {"ticketId": "999"}, "review.report_submit": {"root_cause": ""},
    "review.action_complete": {"actionId": 1},
}


def config(restricted: bool) -> Any:
    directory = {**E2E_CONFIG["directory"], "product_head": {
        "name": PRIYA.name, "email": "priya@example.com", "aad_object_id": PRIYA.aad_object_id}}
    return parse_config({**E2E_CONFIG, "directory": directory, "roles": {
        "incident_admins": [ADA.aad_object_id], "restrict_to_responders": restricted}})


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'beacon.db'}"


async def resolved_incident_with_a_report(stack: Stack) -> Any:
    """INC-1: declared by Bob, who assigns Cora; Cora takes command, reassesses, investigates and
    resolves it; Priya's report is in, with a follow-up action she owns."""
    stack.teams.add_member({**GINA.member(), "userRole": "guest"})
    _, root = await declare(stack, from_user=BOB)
    await act(stack, root, "incident.assign", from_user=BOB, responders=CORA.aad_object_id)
    for verb, data in (("incident.take_command", {}), ("incident.reassess", {"impact": "high", "urgency": "medium"}),
                       ("incident.status", {"status": "investigating"}),
                       ("incident.resolve", {"summary": "Rolled back"})):
        await settled(stack)
        await act(stack, root, verb, from_user=CORA, **data)
    await settled(stack)
    report = {"incidentId": 1, "root_cause": "A bad push", "lessons": "Canary", "action1_title": "Add a canary",
              "action1_owner": PRIYA.aad_object_id, "action1_due": "2030-01-09"}
    await stack.invoke_card(card_action_invoke("review.report_submit", report, reply_to_id=root.id,
                                               service_url=stack.url, from_user=PRIYA))
    return root


async def outcome(stack: Stack, root: Any, verb: str, person: Person) -> str:
    data = {"incidentId": 1, "version": 0, **DATA.get(verb, {})}
    status, body = await stack.send(card_action_invoke(verb, data, reply_to_id=root.id, service_url=stack.url,
                                                       from_user=person))
    assert status == 200, body
    # Past the policy, the made-up data below is what Beacon refused (never a crash: that is a 500).
    if body["type"] == "application/vnd.microsoft.error" and body["value"]["code"] != "BadRequest":
        assert body["value"]["message"].startswith("Not allowed: "), body
        return "refused"
    if body["type"] == "application/vnd.microsoft.error":
        return "allowed"
    assert body["type"] == "application/vnd.microsoft.card.adaptive", body
    return "allowed"


@pytest.mark.slow
@pytest.mark.parametrize("restricted", [False, True], ids=["default", "restrict_to_responders"])
async def test_every_verb_for_every_role(sqlite_url: str, restricted: bool) -> None:
    expected = RESTRICTED if restricted else EXPECTED
    missing = sorted(v.value for v in Verb if v.value not in expected)
    assert not missing, f"verbs with no expected answer here (and perhaps no policy entry): {missing}"
    stack = await start_stack(sqlite_url, config(restricted))
    try:
        root = await resolved_incident_with_a_report(stack)
        async with stack.beacon.deps.uow() as uow:
            before = await uow.incidents.get(1)
        wrong = []
        for verb in Verb:
            allowed = set(expected[verb.value].split())
            for role, person in PEOPLE.items():
                got = await outcome(stack, root, verb.value, person)
                if got != ("allowed" if role in allowed else "refused"):
                    wrong.append(f"{verb.value} by the {role}: {got}")
        assert not wrong, "\n".join(wrong)
        async with stack.beacon.deps.uow() as uow:
            after = await uow.incidents.get(1)
            refusals = [e for e in await uow.timeline.of(1) if e.kind == "refused"]
        assert (after.commander, after.responders) == (before.commander, before.responders)
        assert refusals and all(e.summary.startswith("refused: ") for e in refusals)
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
