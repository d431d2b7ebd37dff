"""Where Beacon talks in Teams, inside a unit of work: the incident threads it started, the
conversations it is installed in, and those it cannot post to for good."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, literal, select, union_all, update

from services.store.dialect import insert_if_new
from services.store.tables import InstallationRow, ProcessedActivityRow, TeamsProblemRow, ThreadRow

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork


# The click path reads which incident a message belongs to on every card action: the card Beacon
# posted in it (0) and the thread it is in (1), in one round trip; or only the thread, when the
# click names no message. Built once.
_BY_CARD = (select(literal(0), ProcessedActivityRow.incident_id, literal(""))
            .where(ProcessedActivityRow.activity_id == bindparam("card_key")))
_BY_THREAD = (select(literal(1), ThreadRow.incident_id, ThreadRow.conversation_id)
              .where(ThreadRow.root_activity_id == bindparam("root")))
_BY_CARD_OR_THREAD = union_all(_BY_CARD, _BY_THREAD)


class Threads:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def get(self, incident_id: int, purpose: str = "incident") -> ThreadRow | None:
        return await self._uow.session.get(ThreadRow, (incident_id, purpose))

    async def incident_at(self, root_activity_id: str) -> int | None:
        """The incident whose own thread starts at this root message, if any."""
        if not root_activity_id:
            return None
        return await self._uow.session.scalar(select(ThreadRow.incident_id).where(
            ThreadRow.root_activity_id == root_activity_id, ThreadRow.purpose == "incident").limit(1))

    async def note_card(self, conversation_id: str, message_id: str, incident_id: int, now: datetime) -> None:
        """Note that Beacon's message `message_id` carries a card of this incident (kept as first
        noted: a later answer cannot move a message to another incident)."""
        if message_id:
            await self._uow.activities.mark_processed(_card_key(conversation_id, message_id), incident_id, now)

    async def incident_of_message(self, conversation_id: str, message_id: str) -> int | None:
        """The incident a message belongs to: the one whose card Beacon posted in it, else the one
        whose thread (root or reply) it is in. None for a message outside every incident."""
        channel, _, root = conversation_id.partition(";messageid=")
        root = root or message_id  # a chat has no threads: only the root card's own message
        if not root:  # no message id either
            return None
        read, params = _BY_THREAD, {"root": root}
        if message_id:
            read, params = _BY_CARD_OR_THREAD, {**params, "card_key": _card_key(conversation_id, message_id)}
        rows = sorted(await self._uow.session.execute(read, params), key=lambda row: row[0])
        return next((incident_id for source, incident_id, conversation in rows if incident_id is not None
                     and (source == 0 or conversation.partition(";messageid=")[0] == channel)), None)

    async def save(self, **values: Any) -> None:
        """Note where a thread was started (kept as first recorded)."""
        values.setdefault("purpose", "incident")
        if await self.get(values["incident_id"], values["purpose"]) is None:
            self._uow.session.add(ThreadRow(**values))


def _card_key(conversation_id: str, message_id: str) -> str:
    """A mark key (processed_activities) per message: message ids are unique within a channel or chat."""
    channel = conversation_id.partition(";messageid=")[0]
    return "card:" + hashlib.sha256(f"{channel}\n{message_id}".encode()).hexdigest()[:40]


class Installations:
    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def get(self, conversation_id: str) -> InstallationRow | None:
        return await self._uow.session.get(InstallationRow, conversation_id)

    async def save(self, **values: Any) -> InstallationRow:
        session = self._uow.session
        row = await self.get(values["conversation_id"])
        if row is None:
            row = InstallationRow(greeted=False, **values)
            session.add(row)
        else:
            for key, value in values.items():
                if key != "installed_at" and not (key == "team_name" and not value):  # not always named
                    setattr(row, key, value)
        await session.flush()
        return row

    async def greet_once(self, conversation_id: str) -> bool:
        """True for the one caller that gets to say hello: installationUpdate and conversationUpdate
        both announce an install, sometimes at the same moment."""
        result = await self._uow.session.execute(
            update(InstallationRow)
            .where(InstallationRow.conversation_id == conversation_id, InstallationRow.greeted.is_(False))
            .values(greeted=True))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def of_channel(self, channel_id: str) -> InstallationRow | None:
        """The team installation that covers this channel, when Beacon knows it (installed from that
        channel, or the channel is the team's General one, whose id is the team's)."""
        query = select(InstallationRow).where(InstallationRow.kind == "team",
                                              (InstallationRow.channel_id == channel_id)
                                              | (InstallationRow.team_id == channel_id))
        return await self._uow.session.scalar(query.order_by(InstallationRow.installed_at).limit(1))

    async def of_team(self, team_id: str) -> list[InstallationRow]:
        return list(await self._uow.session.scalars(
            select(InstallationRow).where(InstallationRow.team_id == team_id, InstallationRow.kind == "team")
            .order_by(InstallationRow.installed_at)))

    async def teams(self) -> list[InstallationRow]:
        """One installation per team Beacon is in (the first made there)."""
        rows = await self._uow.session.scalars(select(InstallationRow).where(InstallationRow.kind == "team")
                                               .order_by(InstallationRow.installed_at))
        first: dict[str, InstallationRow] = {}
        for row in rows:
            first.setdefault(row.team_id, row)
        return list(first.values())

    async def forget_team(self, team_id: str) -> list[InstallationRow]:
        """Beacon was removed from the team (or the team was deleted): nothing is posted there now.
        Returns what was forgotten."""
        rows = await self.of_team(team_id)
        if rows:
            await self._uow.session.execute(delete(InstallationRow).where(InstallationRow.team_id == team_id,
                                                                          InstallationRow.kind == "team"))
        return rows

    async def forget(self, conversation_id: str) -> None:
        await self._uow.session.execute(delete(InstallationRow).where(
            InstallationRow.conversation_id == conversation_id))

    async def rename_team(self, team_id: str, name: str) -> None:
        if name:
            await self._uow.session.execute(update(InstallationRow).where(InstallationRow.team_id == team_id)
                                            .values(team_name=name[:300]))

    async def any_team(self, tenant_id: str = "") -> InstallationRow | None:
        """The first team Beacon was installed in (of this tenant, when given)."""
        query = select(InstallationRow).where(InstallationRow.kind == "team")
        if tenant_id:
            query = query.where(InstallationRow.tenant_id == tenant_id)
        return await self._uow.session.scalar(query.order_by(InstallationRow.installed_at).limit(1))


class TeamsProblems:
    """Conversations Teams refused for good (services/comms/teams_problems.py says what to do)."""

    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def record(self, conversation_id: str, *, status: int, problem: str, fix: str,
                     incident_id: int | None, now: datetime) -> bool:
        """Note a refusal; True for the first one since the conversation last worked (the one to
        tell people about), also when two replicas record it at the same moment."""
        result = await self._uow.session.execute(insert_if_new(self._uow.session, TeamsProblemRow), dict(
            conversation_id=conversation_id, status=status, problem=problem, fix=fix, incident_id=incident_id,
            since=now, last_at=now, failures=1))
        if result.rowcount:  # type: ignore[attr-defined]
            return True
        await self._uow.session.execute(
            update(TeamsProblemRow).where(TeamsProblemRow.conversation_id == conversation_id)
            .values(last_at=now, failures=TeamsProblemRow.failures + 1, status=status, problem=problem, fix=fix))
        return False

    async def clear(self, conversation_ids: Iterable[str]) -> None:
        ids = list(conversation_ids)
        if ids:
            await self._uow.session.execute(delete(TeamsProblemRow).where(TeamsProblemRow.conversation_id.in_(ids)))

    async def all(self) -> list[TeamsProblemRow]:
        return list(await self._uow.session.scalars(select(TeamsProblemRow).order_by(TeamsProblemRow.since)))
