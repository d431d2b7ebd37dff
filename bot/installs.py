"""Remembering where Beacon is installed, and saying hello there once."""

from __future__ import annotations

from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot import context as ctx
from cards.messages import welcome_card
from services.deps import Deps


async def record_install(turn_context: TurnContext, deps: Deps) -> None:
    activity = turn_context.activity
    team = ctx.team_id(activity)
    kind = "team" if team else (activity.conversation.conversation_type or "personal")
    reference = TurnContext.get_conversation_reference(activity).serialize()
    async with deps.uow() as uow:
        await uow.installations.save(
            conversation_id=activity.conversation.id, kind=kind, team_id=team,
            channel_id=ctx.channel_id(activity) or (activity.conversation.id if team else ""),
            tenant_id=ctx.tenant_id(activity), service_url=activity.service_url, reference=reference,
            installed_at=deps.clock.now(), team_name=ctx.team_name(activity))
        # installationUpdate and conversationUpdate both announce an install, sometimes at the
        # same moment: only the one that flips `greeted` says hello.
        first = await uow.installations.greet_once(activity.conversation.id)
        await uow.commit()
    if first:
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(welcome_card())))
