"""Activities shaped as Teams posts them to a bot's /api/messages, for end-to-end tests.

The shapes follow real captures kept in tests/data/teams/ (from microsoft/teams.net's unit tests and
the msteams-docs message-extension pages): camelCase keys as on the wire, channel conversations
"<channel>;messageid=<thread root>", a clientInfo entity carrying the reader's time zone, and
`<at>Beacon</at>` mentions. Every builder needs the fake connector's URL as `service_url` (that is
where the bot's answers go) and has defaults for the rest, so a minimal call reads like the story:

    card_action_invoke("incident.ack", {"incidentId": "7", "version": 3}, reply_to_id="123", service_url=url)
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ActivityJson = dict[str, Any]
Scope = Literal["channel", "personal"]

TENANT_ID = "5f1c2d3e-4b5a-4c6d-8e7f-90a1b2c3d4e5"
TEAM_ID = "19:Qx4wbeaconteamZ8kVn3pR2aLm7sT1uY6@thread.tacv2"
CHANNEL_ID = "19:6f2a9c1d4e8b47a0b3c5d7e9f1a2b3c4@thread.tacv2"  # the incidents channel
BOT_APP_ID = "8e3b1f52-7c4d-4a9e-b6f0-2d1c3a5e7b90"
BOT_NAME = "Beacon"
TIMEZONE = "Europe/London"
LOCALE = "en-GB"

# Teams message ids are epoch milliseconds; ours start in 2023 so they never meet the fake connector's.
_message_ids = itertools.count(1_700_000_000_000)


@dataclass(frozen=True)
class Person:
    """A Teams user: `id` is the bot-scoped "29:…" id, `aad_object_id` the Entra object id."""

    name: str
    id: str
    aad_object_id: str
    email: str
    tenant_id: str = TENANT_ID

    @classmethod
    def named(cls, name: str, *, tenant_id: str = TENANT_ID) -> Person:
        """A person with stable ids derived from the name, so reruns see the same ids."""
        aad = uuid.uuid5(uuid.NAMESPACE_URL, f"beacon-test:{name}")
        email = name.lower().replace(" ", ".") + "@contoso.example"
        return cls(name, f"29:1{aad.hex}{aad.hex[:20]}", str(aad), email, tenant_id)

    def account(self) -> dict[str, str]:
        """As in an activity's `from`."""
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id}

    def member(self) -> dict[str, Any]:
        """As the connector answers a member look-up (TeamsChannelAccount)."""
        given, _, surname = self.name.partition(" ")
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id, "email": self.email,
                "userPrincipalName": self.email, "givenName": given, "surname": surname,
                "tenantId": self.tenant_id, "userRole": "user"}


class Users:
    """Sample responders and a stakeholder."""

    ALICE = Person.named("Alice Carter")  # usually the incident commander
    BOB = Person.named("Bob Singh")
    CAROL = Person.named("Carol Jones")
    DAN = Person.named("Dan Okafor")  # a stakeholder, not a responder

    @classmethod
    def all(cls) -> list[Person]:
        return [cls.ALICE, cls.BOB, cls.CAROL, cls.DAN]


def bot_account(bot_app_id: str = BOT_APP_ID) -> dict[str, str]:
    return {"id": f"28:{bot_app_id}", "name": BOT_NAME}


def next_message_id() -> str:
    return str(next(_message_ids))


def _now(timezone: str) -> tuple[str, str]:
    now = datetime.now(UTC)
    try:
        local = now.astimezone(ZoneInfo(timezone))
    except ZoneInfoNotFoundError:
        local = now
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z"), local.isoformat(timespec="milliseconds")


def client_info(timezone: str = TIMEZONE, locale: str = LOCALE) -> dict[str, str]:
    """The entity that tells the bot the reader's locale and time zone."""
    return {"locale": locale, "country": locale.rpartition("-")[2], "platform": "Web", "timezone": timezone,
            "type": "clientInfo"}


def channel_conversation(thread_root: str, *, channel_id: str = CHANNEL_ID,
                         tenant_id: str = TENANT_ID) -> dict[str, Any]:
    return {"id": f"{channel_id};messageid={thread_root}", "isGroup": True, "conversationType": "channel",
            "tenantId": tenant_id}


def personal_conversation(user: Person) -> dict[str, Any]:
    return {"id": "a:1" + uuid.uuid5(uuid.NAMESPACE_URL, user.id).hex, "conversationType": "personal",
            "tenantId": user.tenant_id}


def team_channel_data(*, team_id: str = TEAM_ID, channel_id: str = CHANNEL_ID,
                      tenant_id: str = TENANT_ID) -> dict[str, Any]:
    return {"teamsChannelId": channel_id, "teamsTeamId": team_id, "channel": {"id": channel_id},
            "team": {"id": team_id}, "tenant": {"id": tenant_id}}


def _envelope(kind: str, *, service_url: str, conversation: dict[str, Any], channel_data: dict[str, Any],
              from_user: Person, activity_id: str, timezone: str, locale: str = LOCALE,
              bot_app_id: str = BOT_APP_ID) -> ActivityJson:
    timestamp, local = _now(timezone)
    return {"type": kind, "channelId": "msteams", "id": activity_id, "serviceUrl": service_url,
            "channelData": channel_data, "from": from_user.account(), "recipient": bot_account(bot_app_id),
            "conversation": conversation, "entities": [client_info(timezone, locale)], "timestamp": timestamp,
            "localTimestamp": local, "locale": locale, "localTimezone": timezone}


def _place(scope: Scope, thread_root: str, from_user: Person, team_id: str, channel_id: str,
           tenant_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Conversation and channelData for a channel thread or the user's personal chat with the bot."""
    if scope == "personal":
        return personal_conversation(from_user), {"tenant": {"id": tenant_id}}
    return (channel_conversation(thread_root, channel_id=channel_id, tenant_id=tenant_id),
            team_channel_data(team_id=team_id, channel_id=channel_id, tenant_id=tenant_id))


# -- messages -------------------------------------------------------------------------------------

def channel_message(text: str, *, service_url: str, mention_bot: bool = True, from_user: Person = Users.ALICE,
                    team_id: str = TEAM_ID, channel_id: str = CHANNEL_ID, tenant_id: str = TENANT_ID,
                    reply_to_thread: str | None = None, timezone: str = TIMEZONE,
                    value: dict[str, Any] | None = None, bot_app_id: str = BOT_APP_ID) -> ActivityJson:
    """A channel message. A new post is its own thread root (conversation "<channel>;messageid=<its
    id>"); `reply_to_thread` makes it a reply in that thread. `value` imitates an Action.Submit."""
    activity_id = next_message_id()
    activity = _envelope("message", service_url=service_url, from_user=from_user, activity_id=activity_id,
                         conversation=channel_conversation(reply_to_thread or activity_id, channel_id=channel_id,
                                                           tenant_id=tenant_id),
                         channel_data=team_channel_data(team_id=team_id, channel_id=channel_id,
                                                        tenant_id=tenant_id),
                         timezone=timezone, bot_app_id=bot_app_id)
    _add_text(activity, text, mention_bot, bot_app_id)
    if value is not None:
        activity["value"] = value
    return activity


def personal_message(text: str, *, service_url: str, from_user: Person = Users.ALICE, timezone: str = TIMEZONE,
                     value: dict[str, Any] | None = None, bot_app_id: str = BOT_APP_ID) -> ActivityJson:
    """A message in the user's 1:1 chat with Beacon (no mention needed there)."""
    activity = _envelope("message", service_url=service_url, conversation=personal_conversation(from_user),
                         channel_data={"tenant": {"id": from_user.tenant_id}}, from_user=from_user,
                         activity_id=next_message_id(), timezone=timezone, bot_app_id=bot_app_id)
    _add_text(activity, text, False, bot_app_id)
    if value is not None:
        activity["value"] = value
    return activity


def _add_text(activity: ActivityJson, text: str, mention_bot: bool, bot_app_id: str) -> None:
    mention = f"<at>{BOT_NAME}</at>"
    html = text
    if mention_bot:
        activity["entities"].insert(0, {"mentioned": bot_account(bot_app_id), "text": mention, "type": "mention"})
        html = (f'<span itemtype="http://schema.skype.com/Mention" itemscope="" itemid="0">{BOT_NAME}</span>'
                f"&nbsp;{text}")
        text = f"{mention} {text}"
    activity.update({"text": text, "textFormat": "plain",
                     "attachments": [{"contentType": "text/html", "content": f"<p>{html}</p>"}]})


# -- installs ---------------------------------------------------------------------------------------

def installation_update(action: Literal["add", "remove"] = "add", *, service_url: str,
                        team_id: str | None = TEAM_ID, channel_id: str | None = None,
                        tenant_id: str = TENANT_ID, from_user: Person = Users.ALICE,
                        bot_app_id: str = BOT_APP_ID) -> ActivityJson:
    """Beacon installed into (or removed from) a team, or a personal scope when `team_id` is None.
    `channel_id` is the channel picked at install (defaults to the team's General channel)."""
    conversation, channel_data = _install_place(team_id, channel_id, tenant_id, from_user)
    activity = _envelope("installationUpdate", service_url=service_url, conversation=conversation,
                         channel_data=channel_data, from_user=from_user, activity_id=f"f:{uuid.uuid4()}",
                         timezone=TIMEZONE, bot_app_id=bot_app_id)
    activity["action"] = action
    return activity


def conversation_update_bot_added(*, service_url: str, team_id: str = TEAM_ID, team_name: str = "Operations",
                                  channel_id: str | None = None, tenant_id: str = TENANT_ID,
                                  from_user: Person = Users.ALICE, bot_app_id: str = BOT_APP_ID) -> ActivityJson:
    """The conversationUpdate Teams sends with a team install: the bot in membersAdded."""
    conversation, channel_data = _install_place(team_id, channel_id, tenant_id, from_user)
    channel_data["team"]["name"] = team_name
    channel_data["eventType"] = "teamMemberAdded"
    activity = _envelope("conversationUpdate", service_url=service_url, conversation=conversation,
                         channel_data=channel_data, from_user=from_user, activity_id=f"f:{uuid.uuid4()}",
                         timezone=TIMEZONE, bot_app_id=bot_app_id)
    activity["membersAdded"] = [{"id": f"28:{bot_app_id}"}]
    return activity


def team_event(event_type: str, *, service_url: str, team_id: str = TEAM_ID, team_name: str = "Operations",
               channel: dict[str, str] | None = None, tenant_id: str = TENANT_ID, from_user: Person = Users.ALICE,
               bot_app_id: str = BOT_APP_ID) -> ActivityJson:
    """A conversationUpdate about the team itself, as Teams sends it to a bot installed there:
    `teamDeleted`, `teamHardDeleted`, `teamRenamed` (the new name in channelData.team.name),
    `channelCreated`, `channelRenamed`, `channelDeleted` (`channel`: {"id", "name"})."""
    conversation = {"id": team_id, "isGroup": True, "conversationType": "channel", "tenantId": tenant_id}
    channel_data: dict[str, Any] = {"team": {"id": team_id, "name": team_name,
                                             "aadGroupId": str(uuid.uuid5(uuid.NAMESPACE_URL, team_id))},
                                    "eventType": event_type, "tenant": {"id": tenant_id}}
    if channel is not None:
        channel_data["channel"] = dict(channel)
    return _envelope("conversationUpdate", service_url=service_url, conversation=conversation,
                     channel_data=channel_data, from_user=from_user, activity_id=f"f:{uuid.uuid4()}",
                     timezone=TIMEZONE, bot_app_id=bot_app_id)


def conversation_update_bot_removed(*, service_url: str, team_id: str = TEAM_ID, team_name: str = "Operations",
                                    tenant_id: str = TENANT_ID, from_user: Person = Users.ALICE,
                                    bot_app_id: str = BOT_APP_ID) -> ActivityJson:
    """The conversationUpdate Teams sends when the bot is removed from a team: the bot in membersRemoved."""
    activity = team_event("teamMemberRemoved", service_url=service_url, team_id=team_id, team_name=team_name,
                          tenant_id=tenant_id, from_user=from_user, bot_app_id=bot_app_id)
    activity["membersRemoved"] = [{"id": f"28:{bot_app_id}"}]
    return activity


def conversation_update_members(people: list[Person], *, added: bool = True, service_url: str,
                                team_id: str = TEAM_ID, team_name: str = "Operations", tenant_id: str = TENANT_ID,
                                from_user: Person = Users.ALICE, bot_app_id: str = BOT_APP_ID) -> ActivityJson:
    """People added to (or removed from) a team Beacon is in: Teams names each by id and
    aadObjectId only (the bot looks the rest up)."""
    activity = team_event("teamMemberAdded" if added else "teamMemberRemoved", service_url=service_url,
                          team_id=team_id, team_name=team_name, tenant_id=tenant_id, from_user=from_user,
                          bot_app_id=bot_app_id)
    activity["membersAdded" if added else "membersRemoved"] = [
        {"id": person.id, "aadObjectId": person.aad_object_id} for person in people]
    return activity


def _install_place(team_id: str | None, channel_id: str | None, tenant_id: str,
                   from_user: Person) -> tuple[dict[str, Any], dict[str, Any]]:
    if team_id is None:
        return personal_conversation(from_user), {"tenant": {"id": tenant_id}}
    # In a team the conversation is the General channel, whose id is the team id.
    conversation = {"id": team_id, "isGroup": True, "conversationType": "channel", "tenantId": tenant_id}
    channel_data = {"settings": {"selectedChannel": {"id": channel_id or team_id}},
                    "team": {"id": team_id, "aadGroupId": str(uuid.uuid5(uuid.NAMESPACE_URL, team_id))},
                    "tenant": {"id": tenant_id}}
    return conversation, channel_data


# -- invokes ----------------------------------------------------------------------------------------

def _invoke(name: str, value: dict[str, Any], *, service_url: str, scope: Scope, thread_root: str,
            from_user: Person, team_id: str, channel_id: str, tenant_id: str, timezone: str,
            source: str = "message") -> ActivityJson:
    conversation, channel_data = _place(scope, thread_root, from_user, team_id, channel_id, tenant_id)
    channel_data["source"] = {"name": source}
    activity = _envelope("invoke", service_url=service_url, conversation=conversation, channel_data=channel_data,
                         from_user=from_user, activity_id=f"f:{uuid.uuid4()}", timezone=timezone)
    activity.update({"name": name, "value": value})
    return activity


def card_action_invoke(verb: str, data: dict[str, Any] | None = None, *, reply_to_id: str, service_url: str,
                       from_user: Person = Users.ALICE, scope: Scope = "channel", thread_root: str | None = None,
                       team_id: str = TEAM_ID, channel_id: str = CHANNEL_ID, tenant_id: str = TENANT_ID,
                       timezone: str = TIMEZONE, title: str | None = None,
                       trigger: Literal["manual", "automatic"] = "manual") -> ActivityJson:
    """An Action.Execute on the card in message `reply_to_id`. In a channel the card sits in the
    thread of `thread_root` (default: the card is the root); `trigger="automatic"` is a refresh."""
    action: dict[str, Any] = {"type": "Action.Execute", "verb": verb, "data": dict(data or {})}
    if title:
        action["title"] = title
    activity = _invoke("adaptiveCard/action", {"action": action, "trigger": trigger}, service_url=service_url,
                       scope=scope, thread_root=thread_root or reply_to_id, from_user=from_user,
                       team_id=team_id, channel_id=channel_id, tenant_id=tenant_id, timezone=timezone)
    activity["replyToId"] = reply_to_id
    activity["channelData"]["legacy"] = {"replyToId": f"1:{uuid.uuid5(uuid.NAMESPACE_URL, reply_to_id).hex}"}
    return activity


def task_fetch(data: dict[str, Any], *, service_url: str, reply_to_id: str | None = None,
               from_user: Person = Users.ALICE, scope: Scope = "channel", thread_root: str | None = None,
               team_id: str = TEAM_ID, channel_id: str = CHANNEL_ID, tenant_id: str = TENANT_ID,
               timezone: str = TIMEZONE) -> ActivityJson:
    """Open a dialog from a card button (Action.Submit with `msteams: {type: "task/fetch"}`)."""
    return _task("task/fetch", data, service_url=service_url, reply_to_id=reply_to_id, from_user=from_user,
                 scope=scope, thread_root=thread_root, team_id=team_id, channel_id=channel_id,
                 tenant_id=tenant_id, timezone=timezone)


def task_submit(data: dict[str, Any], *, service_url: str, reply_to_id: str | None = None,
                from_user: Person = Users.ALICE, scope: Scope = "channel", thread_root: str | None = None,
                team_id: str = TEAM_ID, channel_id: str = CHANNEL_ID, tenant_id: str = TENANT_ID,
                timezone: str = TIMEZONE) -> ActivityJson:
    """Submit a dialog's form: `data` is the submit action's data merged with the input values."""
    return _task("task/submit", data, service_url=service_url, reply_to_id=reply_to_id, from_user=from_user,
                 scope=scope, thread_root=thread_root, team_id=team_id, channel_id=channel_id,
                 tenant_id=tenant_id, timezone=timezone)


def _task(name: str, data: dict[str, Any], *, reply_to_id: str | None, thread_root: str | None,
          **where: Any) -> ActivityJson:
    value = {"type": name, "data": {**data, "msteams": {"type": "task/fetch"}} if name == "task/fetch" else data,
             "context": {"theme": "default"}}
    activity = _invoke(name, value, thread_root=thread_root or reply_to_id or next_message_id(), **where)
    if reply_to_id:
        activity["replyToId"] = reply_to_id
    return activity


def message_action_fetch(message_text_html: str, *, service_url: str, command_id: str = "declareIncident",
                         author: Person = Users.BOB, from_user: Person = Users.ALICE,
                         message_id: str | None = None, thread_root: str | None = None,
                         team_id: str = TEAM_ID, channel_id: str = CHANNEL_ID, tenant_id: str = TENANT_ID,
                         timezone: str = TIMEZONE) -> ActivityJson:
    """"Declare incident from this message" opened on a channel message written by `author`
    (composeExtension/fetchTask, commandContext "message"); `thread_root` defaults to the message."""
    message_id = message_id or next_message_id()
    value = {"commandId": command_id, "commandContext": "message", "requestId": uuid.uuid4().hex,
             "messagePayload": message_payload(message_text_html, author=author, message_id=message_id,
                                               thread_root=thread_root, channel_id=channel_id),
             "context": {"theme": "default"}}
    return _invoke("composeExtension/fetchTask", value, service_url=service_url, scope="channel",
                   thread_root=thread_root or message_id, from_user=from_user, team_id=team_id,
                   channel_id=channel_id, tenant_id=tenant_id, timezone=timezone, source="compose")


def message_action_submit(data: dict[str, Any], *, service_url: str, command_id: str = "declareIncident",
                          message_text_html: str | None = None, author: Person = Users.BOB,
                          from_user: Person = Users.ALICE, message_id: str | None = None,
                          thread_root: str | None = None, team_id: str = TEAM_ID, channel_id: str = CHANNEL_ID,
                          tenant_id: str = TENANT_ID, timezone: str = TIMEZONE) -> ActivityJson:
    """The dialog opened by a message action is submitted (composeExtension/submitAction); `data` is
    the form. With `message_text_html` the source message comes along as messagePayload."""
    message_id = message_id or next_message_id()
    value: dict[str, Any] = {"commandId": command_id, "commandContext": "message", "data": data,
                             "context": {"theme": "default"}}
    if message_text_html is not None:
        value["messagePayload"] = message_payload(message_text_html, author=author, message_id=message_id,
                                                  thread_root=thread_root, channel_id=channel_id)
    return _invoke("composeExtension/submitAction", value, service_url=service_url, scope="channel",
                   thread_root=thread_root or message_id, from_user=from_user, team_id=team_id,
                   channel_id=channel_id, tenant_id=tenant_id, timezone=timezone, source="compose")


def message_payload(html: str, *, author: Person = Users.BOB, message_id: str | None = None,
                    thread_root: str | None = None, channel_id: str = CHANNEL_ID) -> dict[str, Any]:
    """The message a message action was invoked on, as Graph-style chatMessage JSON."""
    message_id = message_id or next_message_id()
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"linkToMessage": f"https://teams.microsoft.com/l/message/{channel_id}/{message_id}",
            "id": message_id, "replyToId": thread_root if thread_root != message_id else None,
            "createdDateTime": created, "lastModifiedDateTime": None, "deleted": False, "summary": None,
            "importance": "normal", "locale": "en-us", "body": {"contentType": "html", "content": html},
            "from": {"device": None, "conversation": None, "application": None,
                     "user": {"userIdentityType": "aadUser", "id": author.aad_object_id,
                              "displayName": author.name}},
            "reactions": [], "mentions": [], "attachments": []}
