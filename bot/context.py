"""What Beacon reads from an incoming Teams activity: who acted, and where."""

from __future__ import annotations

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from services.config import BeaconConfig
from services.deps import ThreadTarget
from services.incidents import Person


def actor(activity: Activity) -> Person:
    sender = activity.from_property
    aad = getattr(sender, "aad_object_id", None) or (sender.id if sender else "")
    return Person(aad_object_id=aad or "unknown", name=(sender.name if sender else "") or "",
                  user_id=sender.id if sender else None)


def channel_data(activity: Activity) -> dict:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def tenant_id(activity: Activity) -> str:
    tenant = channel_data(activity).get("tenant") or {}
    return str(tenant.get("id") or getattr(activity.conversation, "tenant_id", "") or "")


def channel_id(activity: Activity) -> str:
    channel = channel_data(activity).get("channel") or {}
    return str(channel.get("id") or "")


def selected_channel_id(activity: Activity) -> str:
    """The channel an install names: the one picked in Teams' install dialog
    (settings.selectedChannel), else the channel of the activity."""
    selected = (channel_data(activity).get("settings") or {}).get("selectedChannel") or {}
    return str(selected.get("id") or "") or channel_id(activity)


def team_id(activity: Activity) -> str:
    team = channel_data(activity).get("team") or {}
    return str(team.get("id") or "")


def team_group_id(activity: Activity) -> str:
    """The team's Graph (Entra group) id: Teams names it in install and team events."""
    team = channel_data(activity).get("team") or {}
    return str(team.get("aadGroupId") or "")[:100]


def team_name(activity: Activity) -> str:
    """Teams names the team in conversationUpdate events, not in installationUpdate."""
    team = channel_data(activity).get("team") or {}
    return str(team.get("name") or "")[:300]


def thread_target(activity: Activity, config: BeaconConfig) -> ThreadTarget:
    """The configured incidents channel, else the channel (or chat) the declaration came from."""
    service_url, tenant = activity.service_url, tenant_id(activity)
    if config.channels.incidents_channel:
        return ThreadTarget(service_url, tenant, channel_id=config.channels.incidents_channel)
    channel = channel_id(activity)
    if channel:
        return ThreadTarget(service_url, tenant, channel_id=channel)
    return ThreadTarget(service_url, tenant, conversation_id=activity.conversation.id)


def command_text(context: TurnContext) -> str:
    activity = context.activity
    if activity.recipient and activity.recipient.id:
        text = TurnContext.remove_recipient_mention(activity)
    else:
        text = activity.text or ""
    return (text or "").replace("&nbsp;", " ").strip()
