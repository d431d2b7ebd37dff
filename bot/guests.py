"""Who is a guest: a person Teams marks as a guest (userRole "guest" or "anonymous"), or a member
of another organisation in a shared channel (their tenant differs from the conversation's).
Decided from the authenticated sender by asking the Bot Connector for that member, never from
card data. Answers are cached for a while: a click must not wait for a look-up each time."""

from __future__ import annotations

import logging
import time

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo

from bot import context as ctx

log = logging.getLogger("beacon.bot")
GUEST_ROLES = {"guest", "anonymous"}


class Guests:
    def __init__(self, ttl_seconds: float = 600.0):
        self._ttl = ttl_seconds
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}

    async def is_guest(self, turn_context: TurnContext) -> bool:
        activity = turn_context.activity
        sender = activity.from_property
        if sender is None or not sender.id:
            return False
        tenant = ctx.tenant_id(activity)
        key = (sender.id, tenant)
        cached = self._known.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        try:
            member = await TeamsInfo.get_member(turn_context, sender.id)
        except Exception as error:  # the look-up failed: a member for now, asked again in a minute
            log.warning("could not look up %s to tell a guest from a member: %s", sender.id, error)
            self._known[key] = (False, time.monotonic() + min(60.0, self._ttl))
            return False
        role = str(getattr(member, "user_role", "") or "").lower()
        member_tenant = str(getattr(member, "tenant_id", "") or "")
        guest = role in GUEST_ROLES or bool(tenant and member_tenant and member_tenant != tenant)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[key] = (guest, time.monotonic() + self._ttl)
        return guest
