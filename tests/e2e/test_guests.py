"""Guests, such as a client's contacts in a shared channel: they read incidents, and post updates
only if the config allows. Who is a guest comes from the team roster Beacon keeps for the
authenticated sender (userRole, tenantId, as Teams describes them), never from card data."""

from __future__ import annotations

from dataclasses import replace

from services.config import parse_config
from tests.e2e.conftest import E2E_CONFIG, start_stack
from tests.e2e.helpers import act, card_text, declare, heading, refused, settled
from tests.teams_activities import Person, Users, card_action_invoke, channel_message

GUEST = Person.named("Gina Guest", tenant_id="0b7e6a52-2f4c-4d8e-9a11-c0ffee000001")
EXTERNAL = Person.named("Eli External", tenant_id="0b7e6a52-2f4c-4d8e-9a11-c0ffee000002")


def guest_member(person: Person) -> dict[str, str]:
    return {**person.member(), "userRole": "guest"}


async def kinds(stack, incident_id: int = 1) -> list[str]:  # type: ignore[no-untyped-def]
    async with stack.beacon.deps.uow() as uow:
        return [e.kind for e in await uow.timeline.of(incident_id) if not e.kind.startswith("delivery_")]


async def status_of(stack, incident_id: int = 1) -> str:  # type: ignore[no-untyped-def]
    async with stack.beacon.deps.uow() as uow:
        return (await uow.incidents.get(incident_id)).status.value


async def test_a_guest_reads_but_cannot_change_an_incident(database_url):
    stack = await start_stack(database_url)
    try:
        stack.teams.add_member(guest_member(replace(GUEST, tenant_id=Users.ALICE.tenant_id)))
        _, root = await declare(stack)
        before = await kinds(stack)
        message = await refused(stack, root, "incident.status", from_user=GUEST, status="investigating")
        assert message == "Not allowed: guests can only read INC-1."
        message = await refused(stack, root, "incident.post_update", from_user=GUEST, audience="stakeholders",
                                update="All good from our side")
        assert message == "Not allowed: guests can only read INC-1."
        assert await status_of(stack) == "triage"
        after = await kinds(stack)
        assert after[len(before):] == ["refused", "refused"]
        async with stack.beacon.deps.uow() as uow:
            refusals = [e.summary for e in await uow.timeline.of(1) if e.kind == "refused"]
        assert refusals[0] == "refused: Gina Guest tried to change the status of INC-1: guests can only read INC-1"
        # reading is allowed: a refresh shows the current card without a refusal
        refreshed = await act(stack, root, "incident.refresh", from_user=GUEST)
        assert heading(refreshed).startswith("P1 · INC-1") and "Not allowed" not in card_text(refreshed)
        # a member's click still works; no click asked Teams who the guest is (the roster says)
        await act(stack, root, "incident.status", from_user=Users.BOB, status="investigating")
        assert await status_of(stack) == "investigating"
        assert not [c for c in stack.teams.calls("get_member") if GUEST.id in c.path]
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def test_someone_from_another_organisation_in_a_shared_channel_is_a_guest(database_url):
    stack = await start_stack(database_url)
    try:
        stack.teams.add_member(EXTERNAL)  # userRole "user", but a tenant other than the channel's
        _, root = await declare(stack)
        message = await refused(stack, root, "incident.ack", from_user=EXTERNAL)
        assert message == "Not allowed: guests can only read INC-1."
        assert "acknowledged" not in await kinds(stack)
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def test_guests_post_updates_when_the_config_allows_and_never_declare(database_url):
    config = parse_config({**E2E_CONFIG, "roles": {"guests": "post_updates"}})
    stack = await start_stack(database_url, config)
    try:
        stack.teams.add_member(guest_member(GUEST))
        _, root = await declare(stack)
        answer = await act(stack, root, "incident.post_update", from_user=GUEST, audience="stakeholders",
                           update="Contoso confirms checkout works again")
        assert "Not allowed" not in card_text(answer)
        assert "status_update" in await kinds(stack)
        message = await refused(stack, root, "incident.resolve", from_user=GUEST, summary="fixed")
        assert message == "Not allowed: guests can only read and post updates on INC-1."

        # declaring is not reading: the form comes back with the reason, and no incident is made
        before = len(stack.teams.posted())
        await stack.send(channel_message("declare Our portal is down", service_url=stack.url, from_user=GUEST))
        form = (await stack.teams.wait_for_posts(before + 1))[-1]
        values = {"title": "Our portal is down", "impact": "high", "urgency": "high", "service": "web-portal"}
        message = await stack.invoke_refused(card_action_invoke("declare.submit", values, reply_to_id=form.id,
                                                                service_url=stack.url, from_user=GUEST))
        assert message == "Not allowed: guests can follow incidents but cannot declare an incident."
        await settled(stack)
        async with stack.beacon.deps.uow() as uow:
            assert await uow.incidents.get(2) is None
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
