"""Issue 16, membership without a network call in the click: Beacon keeps each team's roster in its
database (read page by page at install, kept by Teams' membersAdded and membersRemoved), so a click
is decided from the database while Teams takes 5 seconds to answer member look-ups. Someone the
roster does not name yet is refused with the reason, looked up in the background, then allowed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from services.doctor import check_teams_roster
from services.settings import Settings
from tests.e2e.conftest import Stack, start_stack
from tests.e2e.helpers import act, card_text, declare, eventually, refused, settled
from tests.e2e.paging_helpers import ADA, BEARER, GRACE, alert
from tests.e2e.test_paging import paging, personal_pages
from tests.e2e.test_paging_by_hand import acknowledged_alert, answer, in_thread
from tests.teams_activities import (
    CHANNEL_ID,
    TEAM_ID,
    Person,
    Users,
    conversation_update_members,
    installation_update,
)

SLOW = 5.0  # seconds Teams takes to answer a member look-up
STILL_CHECKING = ("Not allowed: Beacon is still checking your membership of this team (a moment after your "
                  "first click); until then you can only read. Try again in a minute.")


@asynccontextmanager
async def installed(database_url: str, *people: Any) -> AsyncIterator[Stack]:
    """Beacon installed in a team whose members are `people`, its roster read."""
    stack = await start_stack(database_url)
    stack.roster_autofill = False
    try:
        for person in people:
            stack.teams.add_member(person)
        await stack.send(installation_update(service_url=stack.url, channel_id=CHANNEL_ID))
        await stack.teams.wait_for(lambda f: [c for c in f.calls("get_paged_members") if c.status == 200] or None)
        await settled(stack)
        yield stack
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()


async def roster_lines(database_url: str) -> list[str]:
    return [check.line() for check in await check_teams_roster(Settings(database_url=database_url))]


async def roster_size(stack: Stack) -> int:
    async with stack.beacon.deps.uow() as uow:
        return await uow.roster.count(TEAM_ID)


async def test_a_first_click_answers_from_the_roster_while_teams_takes_5_s(database_url):
    async with installed(database_url, Users.ALICE, Users.BOB) as stack:
        _, root = await declare(stack)
        stack.teams.slow_down(SLOW, path_contains="/members")
        stack.teams.add_member(Users.CAROL)  # in the team, but joined after the roster was read
        looked_up = len(stack.teams.calls("get_member"))

        teams_answers = asyncio.get_running_loop().create_task(asyncio.sleep(SLOW))
        card = await act(stack, root, "incident.ack", from_user=Users.BOB)  # Bob's first click
        assert not teams_answers.done(), "the click waited for Teams"
        assert "Bob Singh" in card_text(card) and "Acknowledged" in card_text(card)

        # Carol is unknown: refused at once with the reason, and looked up in the background
        message = await refused(stack, root, "incident.note", from_user=Users.CAROL, note="DB failover started")
        assert not teams_answers.done(), "the refusal waited for Teams"
        assert message == STILL_CHECKING
        assert not [c for c in stack.teams.calls("get_member")[looked_up:] if Users.BOB.id in c.path]

        await stack.teams.wait_for(lambda f: [c for c in f.calls("get_member")
                                              if Users.CAROL.id in c.path and c.status == 200] or None,
                                   timeout=SLOW + 10)
        await settled(stack)
        card = await act(stack, root, "incident.note", from_user=Users.CAROL, note="DB failover started")
        assert "Not allowed" not in card_text(card)
        async with stack.beacon.deps.uow() as uow:
            summaries = [e.summary for e in await uow.timeline.of(1)]
        assert any("DB failover started" in s for s in summaries)
        assert any(s.startswith("refused: Carol Jones tried to add a note to INC-1") for s in summaries)


async def test_the_roster_is_read_page_by_page_and_kept_by_teams_events(database_url):
    team = [Person.named(f"Member {n}") for n in range(520)]  # more than Teams' largest page (500)
    guest = Person.named("Gina Guest")
    async with installed(database_url, Users.ALICE, *team) as stack:
        pages = [c for c in stack.teams.calls("get_paged_members") if c.status == 200]
        assert [bool(c.query.get("continuationToken")) for c in pages] == [False, True]
        assert await roster_size(stack) == 521
        assert await roster_lines(database_url) == [f"OK   Teams roster: 521 people known in team {TEAM_ID}"]
        _, root = await declare(stack)
        await act(stack, root, "incident.ack", from_user=team[519])  # known from the second page

        stack.teams.add_member({**guest.member(), "userRole": "guest"})
        await stack.send(conversation_update_members([guest], service_url=stack.url))
        assert await refused(stack, root, "incident.status", from_user=guest,
                             status="investigating") == "Not allowed: guests can only read INC-1."

        await stack.send(conversation_update_members([team[3]], added=False, service_url=stack.url))
        assert await roster_size(stack) == 521  # the guest came, Member 3 left
        assert await refused(stack, root, "incident.status", from_user=team[3],
                             status="investigating") == STILL_CHECKING
        assert not [c for c in stack.teams.calls("get_members")]  # never the throttled non-paged roster


async def test_a_page_reaches_someone_by_the_teams_id_the_roster_holds_while_member_look_ups_fail(database_url):
    async with paging(database_url) as (stack, _):
        await stack.teams.wait_for(lambda f: [c for c in f.calls("get_paged_members") if c.status == 200] or None)
        await settled(stack)
        stack.teams.outage(60, 503, path_contains="/members/")  # Teams cannot answer who someone is
        status, answer = await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        assert status == 200, answer
        await eventually(lambda: personal_pages(stack, ADA), timeout=20, what="Ada's page in Teams")
        assert not [c for c in stack.teams.calls("get_member") if ADA.aad_object_id in c.path]


async def test_a_page_by_hand_finds_the_mentioned_person_in_the_roster_while_teams_takes_5_s(database_url):
    async with paging(database_url) as (stack, _):
        await stack.teams.wait_for(lambda f: [c for c in f.calls("get_paged_members") if c.status == 200] or None)
        root = await acknowledged_alert(stack)
        stack.teams.slow_down(SLOW, path_contains="/members/")
        teams_answers = asyncio.get_running_loop().create_task(asyncio.sleep(SLOW))
        reply = await answer(stack, in_thread(ADA, "page <at>Grace Hopper</at> can you check the ledger?", root.id,
                                              mentioning=(GRACE,)))
        assert reply == "Paged Grace Hopper by teams, sms for INC-1."
        assert not teams_answers.done(), "the command waited for Teams"


async def test_the_doctor_says_when_a_teams_roster_could_not_be_read(database_url):
    stack = await start_stack(database_url)
    try:
        stack.teams.outage(60, 503, path_contains="/pagedmembers")
        await stack.send(installation_update(service_url=stack.url, channel_id=CHANNEL_ID))
        await stack.teams.wait_for(lambda f: f.calls("get_paged_members") or None)
        [line] = await roster_lines(database_url)
        assert line.startswith(f"WARN Teams roster: the roster of team {TEAM_ID} is not read yet: until it is, "
                               "people Beacon does not know are treated as roles.unknown_people says"), line
        assert "fix: it is read in the background after the install" in line
    finally:
        await stack.beacon.stop()
        await stack.teams.stop()
