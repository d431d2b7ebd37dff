"""People a text command names: Teams @mentions (entities with the person's Teams user id) or typed
emails, matched to the directory; and the reader's time zone from the clientInfo entity."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity

from services.config import BeaconConfig
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


async def directory_person(turn_context: TurnContext, config: BeaconConfig, typed: str) -> Pager | None:
    """The directory person `typed` names: an @mention in this message (its Teams id looked up in
    the roster for the Entra id and email), or an email or Entra id typed out."""
    typed = " ".join(typed.split())
    mention = next((m for m in mentions(turn_context.activity) if m.text == typed), None)
    if mention is None:
        return find_person(config, typed) if typed and "<at>" not in typed else None
    if mention.aad_object_id and (found := find_person(config, mention.aad_object_id)):
        return found
    try:
        member = await TeamsInfo.get_member(turn_context, mention.user_id)
    except Exception as error:  # not in this team or chat's roster, or Teams unreachable
        log.info("roster look-up of %s failed: %s", mention.user_id, error)
        member = None
    for key in (getattr(member, "aad_object_id", ""), getattr(member, "email", ""),
                getattr(member, "user_principal_name", "")):
        if key and (found := find_person(config, key)):
            return found
    return None


def shown_as(typed: str) -> str:
    """How a refusal names what was typed: the mention's name without its tags."""
    return " ".join(typed.replace("<at>", "").replace("</at>", "").split())
