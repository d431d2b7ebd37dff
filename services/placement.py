"""Where a declared incident's card goes, said for the person who declared it, and whether Beacon
can post there at all.

"Declare incident" on a message works in any chat, also one Beacon was never added to, where Teams
refuses every post from it. Such a declaration goes to the configured incidents channel; with
none configured it is refused with the fix, before anything is stored, instead of an incident
whose card never appears anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.deps import Deps, ThreadTarget

NOT_IN_THIS_CHAT = ("Beacon is not in this chat, so it cannot post the incident here, and no incidents channel is "
                    "configured. Add Beacon to this chat, declare from a channel where Beacon is, or ask an admin "
                    "to set channels.incidents_channel in Beacon's config.")


@dataclass(frozen=True)
class Placement:
    where: str  # "the incidents channel of team Ops", "this channel", "this chat"
    problem: str = ""  # why Beacon cannot post it (nothing is declared)


async def placement(deps: Deps, target: ThreadTarget, source_conversation: str, source_channel: str) -> Placement:
    if target.channel_id:
        if target.channel_id == source_channel:
            return Placement("this channel")
        async with deps.uow() as uow:
            install = await uow.installations.of_channel(target.channel_id)
        team = f" of team {install.team_name}" if install is not None and install.team_name else ""
        return Placement(f"the incidents channel{team}")
    if target.conversation_id == source_conversation:
        async with deps.uow() as uow:
            installed = await uow.installations.get(source_conversation) is not None
        # Bot Framework names a person's own chat with Beacon "a:…": Beacon is in it by definition.
        if installed or source_conversation.startswith("a:"):
            return Placement("this chat")
        return Placement("", NOT_IN_THIS_CHAT)
    return Placement("its chat")
