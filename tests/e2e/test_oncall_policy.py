"""The on-call and paging text commands × every kind of person, sent through /api/messages as Teams
sends them: each is refused ("Not allowed: …", nothing changed) or gets past the policy. The
expected answers are written out here, not read from the policy module."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.config import parse_config
from tests.e2e.conftest import Stack
from tests.e2e.helpers import act, incident_root
from tests.e2e.paging_helpers import BEARER, GRACE, alert, paging_config
from tests.e2e.test_paging import paging, sms_to
from tests.teams_activities import Person, Users, channel_message

GINA = Person.named("Gina Guest")  # a Teams guest
CORA = Person.named("Cora Commander")  # INC-1's commander, in no directory team
ADMIN = Person.named("Ada Admin")  # roles.incident_admins
PEOPLE = {"guest": GINA, "member": Users.DAN, "responder": GRACE, "commander": CORA, "admin": ADMIN}
UNTIL = (datetime.now(UTC) + timedelta(days=1)).date().isoformat() + " 12:00"

# command -> who gets past the policy
EXPECTED: dict[str, str] = {
    "oncall": "member responder commander admin",
    f"oncall override payments-primary {GRACE.email} until {UNTIL}": "responder admin",
    "oncall override payments-primary clear": "responder admin",
    f"page {GRACE.email} INC-1 can you look at the ledger?": "responder commander admin",
}


async def said(stack: Stack, person: Person, text: str) -> str:
    """Beacon's answer, in the thread the message started."""
    message = channel_message(text, service_url=stack.url, from_user=person)
    status, _ = await stack.send(message)
    assert status in (200, 201)
    reply = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == message["id"]),
                                                      None), timeout=20)
    return reply.text or "(a card)"


async def test_every_oncall_command_for_every_role(database_url: str) -> None:
    roles = {"roles": {"incident_admins": [ADMIN.aad_object_id]}}
    assert parse_config(paging_config() | roles).roles.incident_admins == [ADMIN.aad_object_id]
    async with paging(database_url, beside=roles) as (stack, twilio):
        stack.teams.add_member({**GINA.member(), "userRole": "guest"})
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await act(stack, await incident_root(stack, 1), "incident.take_command", from_user=CORA)
        wrong = []
        for command, allowed in EXPECTED.items():
            for role, person in PEOPLE.items():
                reply = await said(stack, person, command)
                got = "refused" if reply.startswith("Not allowed: ") else "allowed"
                if got != ("allowed" if role in allowed.split() else "refused"):
                    wrong.append(f"{command!r} by the {role}: {got} ({reply[:80]})")
        assert not wrong, "\n".join(wrong)
        await stack.beacon.settle()
        assert len([s for s in sms_to(twilio, "+447700900002") if "can you look" in s]) == 3
