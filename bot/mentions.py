"""People a text command names: Teams @mentions (entities with the person's Teams user id) or typed
emails, matched to the directory; and the reader's time zone from the clientInfo entity."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity

from services import roster
from services.deps import Deps
from services.paging.directory import Pager, find_person

log = logging.getLogger("beacon.bot")


@dataclass(frozen=True)
class Mentioned:
    text: str  # "<at>Grace Hopper</at>", as in the message text
    user_id: str  # the Teams user id (29:…)
    name: str
    aad_object_id: str = ""  # some clients send it; most do not


def _entities(activity: Activity) -> list[dict]:
    return [{"type": getattr(e, "type", ""), **(getattr(e, "additional_properties", None) or {})}
            for e in activity.entities or []]


def mentions(activity: Activity) -> list[Mentioned]:
    """The people mentioned, Beacon itself left out."""
    bot = activity.recipient.id if activity.recipient else ""
    found = []
    for entity in _entities(activity):
        who = entity.get("mentioned") if entity["type"] == "mention" else None
        if isinstance(who, dict) and who.get("id") and who.get("id") != bot:
            found.append(Mentioned(" ".join(str(entity.get("text") or "").split()), str(who["id"]),
                                   str(who.get("name") or ""), str(who.get("aadObjectId") or "")))
    return found


def reader_zone_name(activity: Activity) -> str:
    """The IANA zone of whoever sent this, from the clientInfo entity (else localTimezone)."""
    for entity in _entities(activity):
        if entity["type"] == "clientInfo" and entity.get("timezone"):
            return str(entity["timezone"])
    return str(getattr(activity, "local_timezone", "") or "")


async def directory_person(turn_context: TurnContext, deps: Deps, typed: str) -> Pager | None:
    """The directory person `typed` names: an @mention in this message (its Teams id found in the
    team roster Beacon keeps, else asked of Teams, for the Entra id and email), or an email or
    Entra id typed out."""
    config = deps.config
    typed = " ".join(typed.split())
    mention = next((m for m in mentions(turn_context.activity) if m.text == typed), None)
    if mention is None:
        return find_person(config, typed) if typed and "<at>" not in typed else None
    if mention.aad_object_id and (found := find_person(config, mention.aad_object_id)):
        return found
    member: Any = await roster.by_user_id(deps, mention.user_id)
    if member is None:
        try:
            member = await TeamsInfo.get_member(turn_context, mention.user_id)
        except Exception as error:  # not in this team or chat's roster, or Teams unreachable
            log.info("roster look-up of %s failed: %s", mention.user_id, error)
    for key in (_field(member, "aad_object_id"), _field(member, "email"), _field(member, "user_principal_name")):
        if key and (found := find_person(config, key)):
            return found
    return None


def _field(member: Any, name: str) -> str:
    value = member.get(name) if isinstance(member, dict) else getattr(member, name, "")
    return str(value or "")


def shown_as(typed: str) -> str:
    """How a refusal names what was typed: the mention's name without its tags."""
    return " ".join(typed.replace("<at>", "").replace("</at>", "").split())
