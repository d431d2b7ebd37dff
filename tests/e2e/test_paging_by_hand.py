"""`@Beacon page @person|team <text>` through /api/messages: in an incident's thread (or naming INC-n)
it pages once through the normal page effects, with no escalation after it, and says so on the
timeline; outside any incident it explains why it needs one; who may page is the policy's."""

from __future__ import annotations

from typing import Any

from services.paging.escalation import ESCALATION
from tests.e2e.conftest import Stack
from tests.e2e.helpers import act, card_text, eventually, incident_root, refused
from tests.e2e.paging_helpers import ADA, ADA_PHONE, BEARER, GRACE, GRACE_PHONE, ack_token, alert
from tests.e2e.test_paging import paging, personal_pages, sms_to
from tests.teams_activities import Person, Users, card_action_invoke, channel_message, personal_message


def in_thread(person: Person, text: str, root_id: str, *, mentioning: tuple[Person, ...] = ()) -> dict[str, Any]:
    activity = channel_message(text, service_url="", from_user=person, reply_to_thread=root_id)
    for other in mentioning:
        activity["entities"].append({"type": "mention", "text": f"<at>{other.name}</at>",
                                     "mentioned": {"id": other.id, "name": other.name}})
    return activity


async def answer(stack: Stack, activity: dict[str, Any]) -> str:
    """Beacon's reply to this message (not whatever else it posts meanwhile)."""
    activity["serviceUrl"] = stack.url
    status, _ = await stack.send(activity)
    assert status in (200, 201)
    reply = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == activity["id"]),
                                                      None), timeout=20)
    return reply.text or ""


async def paged_events(stack: Stack) -> list[Any]:
    async with stack.beacon.deps.uow() as uow:
        return [e for e in await uow.timeline.of(1) if e.kind == "paged" and (e.after or {}).get("manual")]


async def acknowledged_alert(stack: Stack) -> Any:
    """INC-1 from an alert, acknowledged by Ada on its card: its escalation is over."""
    await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
    root = await incident_root(stack, 1)
    await act(stack, root, "incident.ack", from_user=ADA)
    await eventually(lambda: personal_pages(stack, ADA), what="Ada's level 1 page", timeout=20)
    await stack.beacon.settle()
    return root


async def test_a_page_by_hand_in_the_thread_pages_once_and_is_on_the_timeline(database_url):
    async with paging(database_url) as (stack, twilio):
        root = await acknowledged_alert(stack)
        message = in_thread(ADA, "page <at>Grace Hopper</at> can you check the ledger database?", root.id,
                            mentioning=(GRACE,))
        reply = await answer(stack, message)
        assert reply == "Paged Grace Hopper by teams, sms for INC-1."
        # The incident is acknowledged, yet a page by hand asks for help: it goes out.
        await eventually(lambda: personal_pages(stack, GRACE) and sms_to(twilio, GRACE_PHONE), timeout=20,
                         what="Grace's pages")
        page = personal_pages(stack, GRACE)[0].cards[0]
        assert "Paged by hand" in card_text(page) and "can you check the ledger database?" in card_text(page)
        [sms] = sms_to(twilio, GRACE_PHONE)
        assert sms.startswith("INC-1 P1: Ada Lovelace: can you check the ledger database? - ") and "/ack/" in sms
        [event] = await paged_events(stack)
        assert event.summary == "Ada Lovelace paged Grace Hopper: can you check the ledger database?"
        assert event.actor.name == ADA.name

        # Teams delivers the message again: nothing more goes out; and no escalation follows.
        status, _ = await stack.send({**message, "serviceUrl": stack.url})
        assert status in (200, 201)
        await stack.beacon.settle()
        assert len(sms_to(twilio, GRACE_PHONE)) == 1 and len(personal_pages(stack, GRACE)) == 1
        assert len(await paged_events(stack)) == 1
        async with stack.beacon.deps.uow() as uow:
            assert await uow.timers.get(1, ESCALATION) is None


async def test_answering_a_page_by_hand_after_the_acknowledgement_joins_the_incident(database_url):
    async with paging(database_url) as (stack, twilio):
        root = await acknowledged_alert(stack)
        await answer(stack, in_thread(ADA, f"page {GRACE.email} can you check the ledger database?", root.id))
        await eventually(lambda: personal_pages(stack, GRACE) and sms_to(twilio, GRACE_PHONE), timeout=20,
                         what="Grace's pages")
        # Grace answers on the Teams page: INC-1 is acknowledged already, so she joins it as a responder.
        page = personal_pages(stack, GRACE)[0]
        [button] = [a for a in page.cards[0]["actions"] if a.get("title") == "Acknowledge"]
        await stack.invoke_card(card_action_invoke(button["verb"], button["data"], reply_to_id=page.id,
                                                   service_url=stack.url, from_user=GRACE, scope="personal"))
        async with stack.beacon.deps.uow() as uow:
            incident = await uow.incidents.get(1)
        assert [p.name for p in incident.responders] == [GRACE.name]
        assert incident.acknowledged_by.name == ADA.name
        # Her SMS link then changes nothing more.
        status, body = await stack.beacon.post(f"/ack/{ack_token(sms_to(twilio, GRACE_PHONE)[0])}")
        assert status == 409 and body["error"] == "Grace Hopper is already working on INC-1."


async def test_the_link_of_a_page_by_hand_joins_an_acknowledged_incident_once(database_url):
    async with paging(database_url) as (stack, twilio):
        root = await acknowledged_alert(stack)
        await answer(stack, in_thread(ADA, f"page {GRACE.email} can you check the ledger database?", root.id))
        await eventually(lambda: sms_to(twilio, GRACE_PHONE), what="Grace's SMS", timeout=20)
        token = ack_token(sms_to(twilio, GRACE_PHONE)[0])
        status, body = await stack.beacon.post(f"/ack/{token}")
        assert status == 200 and body["message"] == "Grace Hopper answered the page and joined INC-1 as a responder."
        status, body = await stack.beacon.post(f"/ack/{token}")
        assert status == 409 and "already used" in body["error"]
        async with stack.beacon.deps.uow() as uow:
            incident = await uow.incidents.get(1)
            joined = [e for e in await uow.timeline.of(1) if e.kind == "responders_assigned"]
        assert [p.name for p in incident.responders] == [GRACE.name] and len(joined) == 1


async def test_naming_the_incident_pages_from_anywhere_and_a_team_goes_to_its_on_call(database_url):
    async with paging(database_url) as (stack, twilio):
        await acknowledged_alert(stack)
        before = len(sms_to(twilio, ADA_PHONE))
        # payments has no schedule of its own name: the first level of its service's policy pages
        # schedule payments-primary, where Ada is on call; Grace, also in the team, is not paged.
        reply = await answer(stack, personal_message("page payments the ledger is stuck INC-1", service_url="",
                                                     from_user=GRACE))
        assert reply == "Paged Ada Lovelace by teams, sms for INC-1."
        await eventually(lambda: len(sms_to(twilio, ADA_PHONE)) == before + 1, what="Ada's page by hand", timeout=20)
        assert "Grace Hopper: the ledger is stuck" in sms_to(twilio, ADA_PHONE)[-1]
        assert not sms_to(twilio, GRACE_PHONE)


async def test_outside_an_incident_a_page_is_refused_with_why(database_url):
    async with paging(database_url) as (stack, twilio):
        reply = await answer(stack, channel_message(f"page {GRACE.email} the ledger is stuck", service_url="",
                                                    from_user=ADA))
        assert reply.startswith("A page by hand belongs to an incident, so it can be acknowledged and tracked")
        assert "INC-7" in reply
        await stack.beacon.settle()
        assert not sms_to(twilio, GRACE_PHONE) and not personal_pages(stack, GRACE)


async def test_who_may_page_and_what_cannot_be_paged(database_url):
    async with paging(database_url) as (stack, twilio):
        root = await acknowledged_alert(stack)
        # Dan is of the organisation but no responder: nobody commands INC-1, yet he may not page.
        reply = await answer(stack, in_thread(Users.DAN, f"page {GRACE.email} wake up", root.id))
        assert reply == "Not allowed: only responders can page people for INC-1."
        reply = await answer(stack, in_thread(ADA, "page nobody@contoso.com wake up", root.id))
        assert reply.startswith("Nobody was paged: nobody@contoso.com is not a person or team in the directory")
        reply = await answer(stack, in_thread(ADA, f"page {GRACE.email}", root.id))
        assert reply == "Nobody was paged: Say why you page: “@Beacon page @person <what you need>”."
        # no card pages by hand: a click that says so is refused with how to, and the card stays
        message = await refused(stack, root, "page.person", from_user=ADA)
        assert message == ("Page from the incident's thread. Write “@Beacon page @person <what you need>” or "
                           "“@Beacon page <team> <what you need>”.")
        await act(stack, root, "incident.resolve", from_user=ADA, summary="Restarted the ledger")
        reply = await answer(stack, in_thread(ADA, f"page {GRACE.email} still broken?", root.id))
        assert reply == "Nobody was paged: INC-1 is resolved: there is nobody to page for."
        await stack.beacon.settle()
        assert not sms_to(twilio, GRACE_PHONE) and await paged_events(stack) == []
