"""Who a sender is, from the team roster Beacon keeps in its database: a click never waits for Teams.

The roster is read from Teams in the background when Beacon is installed in a team (paged, as Teams
asks of bots), and kept by Teams' own events: members added or removed, the team deleted, Beacon
removed. Someone who acts before the roster names them (the read is still running, or they joined
while Beacon was down) is unknown: the click is decided as `roles.unknown_people` says (read-only
by default), and they are looked up in the background (an outbox effect, retried like any other),
so a later click knows them.

A guest is someone Teams marks as one (userRole guest or anonymous), or someone of another
organisation in a shared channel (their tenant is not the channel's).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from services.clock import Clock
from services.deps import Deps
from services.effects.roster import LookUpMember, ReadRoster
from services.incidents import Person
from services.policy import Sender, Standing
from services.store.uow import UnitOfWork

log = logging.getLogger("beacon.teams")
GUEST_ROLES = {"guest", "anonymous"}
Member = Mapping[str, str]  # aad_object_id, user_id, name, email, user_role, tenant_id


@dataclass(frozen=True)
class Where:
    """Where someone acted: the team (empty in a chat outside any team), the conversation (a
    channel without its thread part, or the chat), the tenant and Teams' service URL."""

    team_id: str
    conversation_id: str
    tenant_id: str
    service_url: str

    @property
    def roster_key(self) -> str:
        return self.team_id or self.conversation_id


def standing_of(row: Row[Any], tenant_id: str) -> Standing:
    """A roster row's standing (Roster.of_person's plain row, with team_members' columns)."""
    guest = row.user_role.lower() in GUEST_ROLES or bool(tenant_id and row.tenant_id and row.tenant_id != tenant_id)
    return Standing.GUEST if guest else Standing.MEMBER


async def sender(uow: UnitOfWork, clock: Clock, person: Person, where: Where) -> Sender:
    """The sender as the roster knows them, read in the caller's unit of work (the gate's, which
    goes on to read what the click is about); an unknown one is looked up in the background."""
    rows = await uow.roster.of_person(person.aad_object_id)
    row = next((r for r in rows if r.team_id == where.roster_key), rows[0] if rows else None)
    if row is not None:
        return Sender(person, standing_of(row, where.tenant_id), row.email)
    if person.user_id and where.service_url and where.conversation_id:
        now = clock.now()
        await uow.outbox.add(LookUpMember(
            where.roster_key, where.conversation_id, person.user_id, person.aad_object_id, where.service_url,
            where.tenant_id, f"look up {person.name or person.aad_object_id} in Teams", f"{now:%Y%m%dT%H}"),
            now=now)
        await uow.commit()
    return Sender(person, Standing.UNKNOWN)


async def read_after_install(uow: UnitOfWork, *, team_id: str, service_url: str, tenant_id: str,
                             installed_at: datetime, now: datetime) -> None:
    """Queue the read of a team's roster (in the install's transaction)."""
    await uow.outbox.add(ReadRoster(team_id, service_url, tenant_id, f"read the members of team {team_id}",
                                    installed_at.strftime("%Y%m%dT%H%M%S.%f")), now=now)


async def members_seen(deps: Deps, team_id: str, members: Sequence[Member]) -> None:
    """Members added to a team, a page of its roster, or one person looked up."""
    if not team_id or not members:
        return
    async with deps.uow() as uow:
        await uow.roster.keep(team_id, members, deps.clock.now())
        await uow.commit()


async def members_left(deps: Deps, team_id: str, ids: Sequence[str]) -> None:
    """People removed from a team (by aadObjectId or Teams user id): out of the roster."""
    async with deps.uow() as uow:
        await uow.roster.drop(team_id, ids)
        await uow.commit()


async def roster_read(deps: Deps, team_id: str, started: datetime) -> None:
    """A full read of the roster ended: whoever it did not name has left the team."""
    async with deps.uow() as uow:
        await uow.roster.drop_older(team_id, started)
        await uow.commit()
    log.info("read the roster of team %s", team_id)


async def by_user_id(deps: Deps, user_id: str) -> dict[str, str] | None:
    """Someone a message @mentions (Teams names them by user id only), as a roster knows them."""
    async with deps.uow() as uow:
        row = await uow.roster.of_user(user_id)
    if row is None:
        return None
    return {"aad_object_id": row.aad_object_id, "user_id": row.user_id, "name": row.name, "email": row.email,
            "user_role": row.user_role, "tenant_id": row.tenant_id}


def member_of(account: object) -> dict[str, str]:
    """A TeamsChannelAccount (as botbuilder gives it, or as JSON) as the roster keeps it."""
    def field(*names: str) -> str:
        for name in names:
            value = account.get(name) if isinstance(account, Mapping) else getattr(account, name, None)
            if value:
                return str(value)
        return ""

    return {"aad_object_id": field("aad_object_id", "aadObjectId"), "user_id": field("id"),
            "name": field("name"), "email": field("email", "user_principal_name", "userPrincipalName"),
            "user_role": field("user_role", "userRole"), "tenant_id": field("tenant_id", "tenantId")}


@dataclass(frozen=True)
class RosterCheck:
    outcome: str  # "ok" or "warn"
    detail: str
    fix: str = ""


async def check_rosters(uow: UnitOfWork) -> list[RosterCheck]:
    """How many people Beacon knows in each team it is installed in (for the doctor)."""
    checks = []
    for team in await uow.installations.teams():
        name = team.team_name or team.team_id
        known = await uow.roster.count(team.team_id)
        if known:
            checks.append(RosterCheck("ok", f"{known} people known in team {name}"))
        else:
            checks.append(RosterCheck(
                "warn", f"the roster of team {name} is not read yet: until it is, people Beacon does not know "
                "are treated as roles.unknown_people says (read-only by default) and looked up one by one",
                "it is read in the background after the install; if this stays, check that Beacon reaches Teams "
                "(teams.read_roster effects failing on /metrics) and reinstall Beacon in the team"))
    return checks
