"""The fake Bot Connector and the Teams activity builders, proved against the real botbuilder 4.17 SDK.

Anonymous mode (empty app id and password) as in every end-to-end test: CloudAdapter sends no
token, and its ConnectorClient talks plain HTTP to the fake at the activity's serviceUrl.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from botbuilder.core import BotAdapter, CardFactory, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    ErrorResponseException,
)
from botbuilder.schema.teams import (
    MessagingExtensionAction,
    MessagingExtensionActionResponse,
    TaskModuleMessageResponse,
    TaskModuleRequest,
    TaskModuleResponse,
    TeamInfo,
    TeamsChannelAccount,
    TeamsChannelData,
)
from msrest.exceptions import ClientRequestError

from tests import teams_activities as ta
from tests.fakes.connector import FakeConnector
from tests.teams_activities import CHANNEL_ID, TEAM_ID, TENANT_ID, Users

DATA = Path(__file__).resolve().parents[1] / "data" / "teams"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "INC-7 · DB down"}]}
CARD_V2 = {**CARD, "body": [{"type": "TextBlock", "text": "INC-7 · acknowledged"}]}


class AnonymousConfig:
    APP_ID = ""
    APP_PASSWORD = ""


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as connector:
        yield connector


@pytest.fixture
def adapter() -> CloudAdapter:
    return CloudAdapter(ConfigurationBotFrameworkAuthentication(AnonymousConfig()))


def card_activity(card: dict[str, Any]) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


async def new_thread(adapter: CloudAdapter, service_url: str) -> tuple[str, str]:
    """Post CARD as a new channel thread, as bot/poster.py does; returns (conversation id, root id)."""
    params = ConversationParameters(is_group=True, channel_data={"channel": {"id": CHANNEL_ID}},
                                    activity=card_activity(CARD), tenant_id=TENANT_ID)
    created: dict[str, str] = {}

    async def capture(turn_context: TurnContext) -> None:
        created.update(conversation=turn_context.activity.conversation.id, root=turn_context.activity.id)

    await adapter.create_conversation("", capture, params, "msteams", service_url)
    return created["conversation"], created["root"]


async def in_conversation(adapter: CloudAdapter, service_url: str, conversation_id: str,
                          logic: Callable[[TurnContext], Awaitable[Any]]) -> None:
    reference = ConversationReference(channel_id="msteams", service_url=service_url,
                                      conversation=ConversationAccount(id=conversation_id, is_group=True))
    await adapter.continue_conversation(reference, logic, bot_app_id="")


# -- the connector -----------------------------------------------------------------------------------

async def test_create_conversation_starts_a_channel_thread(fake: FakeConnector, adapter: CloudAdapter) -> None:
    assert fake.url.startswith("http://127.0.0.1:") and fake.url.endswith("/")
    conversation_id, root_id = await new_thread(adapter, fake.url)

    assert conversation_id == f"{CHANNEL_ID};messageid={root_id}" and root_id.isdigit()
    [root] = fake.posted(CHANNEL_ID)
    assert (root.id, root.kind, root.conversation_id) == (root_id, "root", conversation_id)
    assert fake.cards() == [CARD] and fake.thread(root_id) == []
    [request] = fake.calls("create_conversation")
    assert request.body["tenantID"] == TENANT_ID and request.body["isGroup"] is True  # capital D on the wire
    assert request.body["channelData"] == {"channel": {"id": CHANNEL_ID}}
    assert "Authorization" not in request.headers  # anonymous: no token at all


async def test_replies_go_into_the_thread_by_both_posting_routes(fake: FakeConnector,
                                                                 adapter: CloudAdapter) -> None:
    conversation_id, root_id = await new_thread(adapter, fake.url)

    async def reply(turn_context: TurnContext) -> None:
        await turn_context.send_activity("Responder paged")
        client = turn_context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
        await client.conversations.send_to_conversation(conversation_id, MessageFactory.text("Bridge open"))

    await in_conversation(adapter, fake.url, conversation_id, reply)

    assert [m.text for m in fake.thread(root_id)] == ["Responder paged", "Bridge open"]
    assert fake.texts(CHANNEL_ID) == ["Responder paged", "Bridge open"]
    via_continuation, direct = fake.calls("reply") + fake.calls("send")
    # The continuation activity has a random uuid1 id, so send_activity replies to it.
    assert via_continuation.activity_id and "-" in via_continuation.activity_id
    assert via_continuation.conversation_id == conversation_id == direct.conversation_id
    assert "%3Bmessageid%3D" in via_continuation.raw_path
    ids = [m.id for m in fake.posted()]
    assert ids == sorted(ids, key=int) and len(set(ids)) == 3


async def test_an_archived_channel_takes_no_post_reply_or_edit(fake: FakeConnector, adapter: CloudAdapter) -> None:
    conversation_id, root_id = await new_thread(adapter, fake.url)
    fake.archive_channel(CHANNEL_ID)

    async def reply(turn_context: TurnContext) -> None:
        await turn_context.send_activity("Anyone there?")

    async def edit(turn_context: TurnContext) -> None:
        activity = card_activity(CARD_V2)
        activity.id = root_id
        await turn_context.update_activity(activity)

    for logic in (reply, edit):
        with pytest.raises(ErrorResponseException) as caught:
            await in_conversation(adapter, fake.url, conversation_id, logic)
        assert caught.value.response.status_code == 403
    with pytest.raises(ErrorResponseException):
        await new_thread(adapter, fake.url)
    assert fake.thread(root_id) == [] and fake.cards() == [CARD]


async def test_a_message_over_100_kb_as_utf16_is_refused_and_an_image_does_not_count(fake: FakeConnector,
                                                                                       adapter: CloudAdapter) -> None:
    conversation_id, root_id = await new_thread(adapter, fake.url)
    image = "data:image/png;base64," + "A" * 200_000  # Teams leaves base64 images out of the size
    posted: list[str] = []

    def sender(text: str, with_image: bool = False) -> Callable[[TurnContext], Awaitable[None]]:
        async def send(turn_context: TurnContext) -> None:
            card = {**CARD, "body": [{"type": "TextBlock", "text": text}]
                    + ([{"type": "Image", "url": image}] if with_image else [])}
            await turn_context.send_activity(card_activity(card))
            posted.append(text[:10])
        return send

    # 40,000 letters: about 80 KB as UTF-16 with the rest of the activity (and a 200 KB image left
    # out), under the limit; 52,000 CJK characters: 156 KB as UTF-8, 104 KB as UTF-16, refused.
    await in_conversation(adapter, fake.url, conversation_id, sender("a" * 40_000, with_image=True))
    with pytest.raises(ErrorResponseException) as caught:
        await in_conversation(adapter, fake.url, conversation_id, sender("確" * 52_000))
    assert caught.value.response.status_code == 413
    assert json.loads(caught.value.response.text)["error"]["code"] == "MessageSizeTooBig"
    assert posted == ["a" * 10] and len(fake.thread(root_id)) == 1


async def test_update_replaces_the_card_and_keeps_the_history(fake: FakeConnector, adapter: CloudAdapter) -> None:
    conversation_id, root_id = await new_thread(adapter, fake.url)

    async def update(turn_context: TurnContext) -> None:
        activity = card_activity(CARD_V2)
        activity.id = root_id
        response = await turn_context.update_activity(activity)
        assert response.id == root_id

    await in_conversation(adapter, fake.url, conversation_id, update)

    assert fake.cards() == [CARD_V2]
    assert [u["attachments"][0]["content"] for u in fake.updates(root_id)] == [CARD_V2]
    assert [m.cards for m in fake.posted()] == [[CARD_V2]]
    assert fake.message(root_id).versions[0]["attachments"][0]["content"] == CARD
    assert fake.current(root_id)["id"] == root_id


async def test_delete_removes_a_post_from_what_readers_see(fake: FakeConnector, adapter: CloudAdapter) -> None:
    conversation_id, root_id = await new_thread(adapter, fake.url)

    async def delete(turn_context: TurnContext) -> None:
        await turn_context.delete_activity(root_id)

    await in_conversation(adapter, fake.url, conversation_id, delete)
    assert fake.message(root_id).deleted and fake.cards() == []


async def test_throttling_reaches_the_caller_with_retry_after(fake: FakeConnector, adapter: CloudAdapter) -> None:
    conversation_id, root_id = await new_thread(adapter, fake.url)
    fake.fail_next(1, 429, retry_after=7, method="POST")

    async def reply(turn_context: TurnContext) -> None:
        await turn_context.send_activity("status update")

    with pytest.raises(ErrorResponseException) as raised:
        await in_conversation(adapter, fake.url, conversation_id, reply)
    assert raised.value.response.status_code == 429  # the SDK does not retry a 429 itself
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.error.error.code == "Throttled"
    assert fake.thread(root_id) == [] and [r.status for r in fake.calls(failed=True)] == [429]

    await in_conversation(adapter, fake.url, conversation_id, reply)
    assert fake.texts() == ["status update"]


async def test_an_outage_answers_503_to_everything_until_its_window_ends(adapter: CloudAdapter) -> None:
    now = [100.0]
    async with FakeConnector(clock=lambda: now[0]) as fake:  # a clock the test moves
        fake.outage(60)
        for _ in range(3):
            with pytest.raises(ErrorResponseException) as raised:
                await new_thread(adapter, fake.url)
            assert raised.value.response.status_code == 503
            now[0] += 19.9
        assert fake.posted() == [] and len(fake.calls("create_conversation", failed=True)) == 3
        now[0] += 0.4  # 60.1 s after it began
        conversation_id, root_id = await new_thread(adapter, fake.url)
        assert [m.id for m in fake.posted(CHANNEL_ID)] == [root_id]


async def test_rate_limits_count_a_channel_and_its_threads_as_one_conversation(adapter: CloudAdapter) -> None:
    """Teams' per-bot limits: 7 a second, 8 in 2 s, 60 in 30 s; beyond them 429 with Retry-After,
    and the refused request takes no effect."""
    now = [100.0]
    async with FakeConnector(clock=lambda: now[0], rate_limits=True) as fake:
        conversation_id, _ = await new_thread(adapter, fake.url)

        async def reply(turn_context: TurnContext) -> None:
            await turn_context.send_activity(MessageFactory.text("update"))

        for _ in range(6):  # replies in the thread count against the channel
            await in_conversation(adapter, fake.url, conversation_id, reply)
        with pytest.raises(ErrorResponseException) as raised:
            await new_thread(adapter, fake.url)  # the 8th request within one second
        assert raised.value.response.status_code == 429
        assert raised.value.response.headers["Retry-After"] == "1"
        assert len(fake.posted(CHANNEL_ID)) == 7 and len(fake.throttled()) == 1
        other = f"19:other@thread.tacv2;messageid={fake.new_activity_id()}"
        await in_conversation(adapter, fake.url, other, reply)  # another conversation has its own count

        now[0] += 1.01  # the last second is free again, and 8 in 2 s allows one more
        await in_conversation(adapter, fake.url, conversation_id, reply)
        with pytest.raises(ErrorResponseException):
            await in_conversation(adapter, fake.url, conversation_id, reply)
        sent = 8
        while sent < 60:  # 7 every 2 s: within the shorter limits, up to 60 in 30 s
            now[0] += 2.01
            for _ in range(min(7, 60 - sent)):
                await in_conversation(adapter, fake.url, conversation_id, reply)
                sent += 1
        now[0] += 2.01
        with pytest.raises(ErrorResponseException) as raised:
            await in_conversation(adapter, fake.url, conversation_id, reply)
        assert raised.value.response.headers["Retry-After"] == "11"  # when the first of the 60 is 30 s old
        assert len(fake.posted(CHANNEL_ID)) == 60 and len(fake.throttled()) == 3


async def test_sdk_silently_retries_a_5xx_on_put_but_not_on_post(fake: FakeConnector,
                                                                 adapter: CloudAdapter) -> None:
    """urllib3 under msrest retries 5xx for idempotent methods (PUT/GET/DELETE) up to 3 times;
    a POST's 5xx reaches the caller."""
    conversation_id, root_id = await new_thread(adapter, fake.url)
    fake.fail_next(1, 503, method="PUT")

    async def update(turn_context: TurnContext) -> None:
        activity = card_activity(CARD_V2)
        activity.id = root_id
        await turn_context.update_activity(activity)

    await in_conversation(adapter, fake.url, conversation_id, update)
    assert [r.status for r in fake.calls("update")] == [503, 200] and fake.cards() == [CARD_V2]

    fake.fail_next(1, 503, path_contains="/activities", method="POST", after_handling=True)

    async def reply(turn_context: TurnContext) -> None:
        await turn_context.send_activity("lost answer")

    with pytest.raises(ErrorResponseException):
        await in_conversation(adapter, fake.url, conversation_id, reply)
    [sent] = fake.calls("reply")
    assert sent.status == 503 and sent.delivered and fake.texts() == ["lost answer"]


async def test_a_reset_connection_reaches_the_caller_before_or_after_the_post_took_effect(
        fake: FakeConnector, adapter: CloudAdapter) -> None:
    """A TCP reset, no HTTP answer: the SDK raises msrest's ClientRequestError for a POST (urllib3
    retries only idempotent methods). With after_handling the post is in Teams all the same."""
    conversation_id, root_id = await new_thread(adapter, fake.url)

    def reply(text: str) -> Callable[[TurnContext], Awaitable[Any]]:
        async def send(turn_context: TurnContext) -> None:
            await turn_context.send_activity(text)
        return send

    fake.reset_next(1, operation="reply")
    with pytest.raises(ClientRequestError, match="Connection"):
        await in_conversation(adapter, fake.url, conversation_id, reply("never posted"))
    [dropped] = fake.calls("reply")
    assert dropped.reset and dropped.failed and not dropped.delivered and dropped.status == 0
    assert fake.thread(root_id) == [] and dropped.describe().endswith("-> reset")

    fake.reset_next(1, method="POST", after_handling=True)
    with pytest.raises(ClientRequestError):
        await in_conversation(adapter, fake.url, conversation_id, reply("posted, answer lost"))
    lost = fake.calls("reply")[-1]
    assert lost.reset and lost.delivered and lost.describe().endswith("-> reset (after taking effect)")
    assert [m.text for m in fake.thread(root_id)] == ["posted, answer lost"]

    await in_conversation(adapter, fake.url, conversation_id, reply("fine again"))
    assert fake.texts() == ["posted, answer lost", "fine again"]
    assert [(r.reset, r.status) for r in fake.calls("reply")] == [(True, 0), (True, 0), (False, 201)]

    fake.reset_next(1, method="PUT")  # an update is idempotent: urllib3 retries it without a word

    async def update(turn_context: TurnContext) -> None:
        activity = card_activity(CARD_V2)
        activity.id = root_id
        await turn_context.update_activity(activity)

    await in_conversation(adapter, fake.url, conversation_id, update)
    assert [(r.reset, r.status) for r in fake.calls("update")] == [(True, 0), (False, 200)]
    assert fake.updates(root_id) == [fake.current(root_id)]


async def test_member_lookups(fake: FakeConnector, adapter: CloudAdapter) -> None:
    fake.add_member(Users.BOB)
    fake.add_member(Users.CAROL, conversation_id="19:other@thread.tacv2")
    conversation_id, _ = await new_thread(adapter, fake.url)
    found: dict[str, Any] = {}

    async def look_up(turn_context: TurnContext) -> None:
        with pytest.raises(TypeError):  # SDK quirk: TeamsChannelData(**None) in a proactive turn
            await TeamsInfo.get_member(turn_context, Users.BOB.aad_object_id)
        turn_context.activity.channel_data = {}
        found["by_aad"] = await TeamsInfo.get_member(turn_context, Users.BOB.aad_object_id)
        found["by_id"] = await TeamsInfo.get_member(turn_context, Users.BOB.id)
        found["all"] = await TeamsInfo.get_members(turn_context)
        with pytest.raises(ErrorResponseException) as raised:
            await TeamsInfo.get_member(turn_context, Users.CAROL.aad_object_id)
        found["missing"] = raised.value

    await in_conversation(adapter, fake.url, conversation_id, look_up)

    member: TeamsChannelAccount = found["by_aad"]
    assert (member.id, member.name, member.aad_object_id) == (Users.BOB.id, "Bob Singh", Users.BOB.aad_object_id)
    assert (member.email, member.user_principal_name, member.tenant_id) == (Users.BOB.email,) * 2 + (TENANT_ID,)
    assert found["by_id"].aad_object_id == Users.BOB.aad_object_id
    assert [m.name for m in found["all"]] == ["Bob Singh"]
    assert found["missing"].response.status_code == 404
    assert found["missing"].error.error.code == "MemberNotFoundInConversation"
    assert fake.calls("get_member")[0].member_id == Users.BOB.aad_object_id


async def test_wait_for_wakes_on_a_post_and_explains_a_timeout(fake: FakeConnector,
                                                               adapter: CloudAdapter) -> None:
    started = asyncio.get_running_loop().create_task(new_thread(adapter, fake.url))
    [root] = await fake.wait_for_posts(1, CHANNEL_ID, timeout=2)
    assert (await started)[1] == root.id
    assert await fake.wait_for(lambda f: f.cards()[0]) == CARD

    with pytest.raises(AssertionError) as raised:
        await fake.wait_for(lambda f: f.thread(root.id)[0], timeout=0.05)
    assert "POST /v3/conversations -> 201" in str(raised.value) and "IndexError" in str(raised.value)


async def test_slow_answers(fake: FakeConnector, adapter: CloudAdapter) -> None:
    fake.delay_next(1, 0.2, path_contains="/v3/conversations")
    began = time.monotonic()
    await new_thread(adapter, fake.url)
    assert time.monotonic() - began >= 0.2
    fake.slow_down(0.1, method="POST")
    began = time.monotonic()
    await new_thread(adapter, fake.url)
    assert time.monotonic() - began >= 0.1
    fake.slow_down(0)
    assert len(fake.posted()) == 2


async def test_paths_are_decoded_and_unknown_routes_answer_404(fake: FakeConnector) -> None:
    """Raw HTTP, because TeamsInfo's Teams-only calls (get_team_details, get_team_channels, meetings)
    use botbuilder's synchronous TeamsConnectorClient: it blocks the event loop, so against this
    in-loop fake it hangs until its socket times out."""
    async with aiohttp.ClientSession() as session:
        async with session.get(fake.url + "v3/teams/19%3Ateam%40thread.tacv2") as response:
            assert response.status == 404 and (await response.json())["error"]["code"] == "NotFound"
        odd = "a:1x/y;messageid=5"  # an encoded "/" inside an id must not split the path
        async with session.post(fake.url + "v3/conversations/a%3A1x%2Fy%3Bmessageid%3D5/activities",
                                json={"type": "message", "text": "hi"}) as response:
            assert response.status == 201
    unknown, sent = fake.requests
    assert (unknown.operation, unknown.status, unknown.path) == ("unknown", 404, "/v3/teams/19:team@thread.tacv2")
    assert (sent.operation, sent.conversation_id) == ("send", odd)
    assert fake.thread("5")[0].text == "hi"


# -- the activity builders -----------------------------------------------------------------------------

def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def test_builders_have_the_shape_of_real_captures() -> None:
    url = "http://127.0.0.1:1/"
    pairs = [
        (ta.channel_message("hi", service_url=url, reply_to_thread="1"), "channel_thread_message_with_mention.json"),
        (ta.card_action_invoke("incident.ack", {}, reply_to_id="1", service_url=url, scope="personal"),
         "invoke_adaptive_card_action.json"),
        (ta.message_action_fetch("<p>db down</p>", service_url=url),
         "invoke_compose_extension_fetch_task_from_message.json"),
    ]
    for built, name in pairs:
        real = fixture(name)
        assert set(real) <= set(built), name
        assert set(real["channelData"]) <= set(built["channelData"]), name
        # Only the docs' message-action sample names the channel in `conversation`.
        assert set(real["conversation"]) - {"name"} <= set(built["conversation"]), name
        if isinstance(real.get("value"), dict):
            assert set(real["value"]) <= set(built["value"]), name
    fetch = ta.message_action_fetch("<p>db down</p>", service_url=url)
    real_payload = fixture("invoke_compose_extension_fetch_task_from_message.json")["value"]["messagePayload"]
    assert set(real_payload) == set(fetch["value"]["messagePayload"])


def test_the_sdk_reads_what_the_builders_make() -> None:
    url = "http://127.0.0.1:1/"
    message = Activity().deserialize(ta.channel_message("declare db down", service_url=url, reply_to_thread="42"))
    assert message.conversation.id == f"{CHANNEL_ID};messageid=42"
    # SDK quirk: ConversationAccount maps tenant_id to "tenantID"; Teams sends "tenantId", so read channelData.
    assert message.conversation.tenant_id is None
    assert message.conversation.additional_properties["tenantId"] == TENANT_ID
    assert TurnContext.remove_recipient_mention(message).strip() == "declare db down"
    assert [e.type for e in message.entities] == ["mention", "clientInfo"]
    assert message.entities[1].additional_properties["timezone"] == "Europe/London"
    data = TeamsChannelData().deserialize(message.channel_data)
    assert (data.team.id, data.channel.id, data.tenant.id) == (TEAM_ID, CHANNEL_ID, TENANT_ID)
    assert message.from_property.aad_object_id == Users.ALICE.aad_object_id
    assert message.recipient.id == f"28:{ta.BOT_APP_ID}" and message.recipient.name == "Beacon"

    invoke = Activity().deserialize(ta.card_action_invoke("incident.ack", {"incidentId": "7", "version": 3},
                                                          reply_to_id="123", service_url=url))
    value = AdaptiveCardInvokeValue().deserialize(invoke.value)
    assert (invoke.type, invoke.name, invoke.reply_to_id) == ("invoke", "adaptiveCard/action", "123")
    assert value.action == {"type": "Action.Execute", "verb": "incident.ack", "data": {"incidentId": "7", "version": 3}}
    assert invoke.conversation.id == f"{CHANNEL_ID};messageid=123"

    ids = {ta.channel_message("x", service_url=url)["id"] for _ in range(3)} | {
        ta.task_fetch({}, service_url=url)["id"] for _ in range(3)}
    assert len(ids) == 6


class RecordingBot(TeamsActivityHandler):
    """Notes which SDK handler each activity reached, with what."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        self.seen["message"] = TurnContext.remove_recipient_mention(turn_context.activity).strip()
        await turn_context.send_activity("On it")

    async def on_adaptive_card_invoke(self, turn_context: TurnContext,
                                      invoke_value: AdaptiveCardInvokeValue) -> AdaptiveCardInvokeResponse:
        self.seen["card"] = invoke_value.action
        return AdaptiveCardInvokeResponse(status_code=200, type="application/vnd.microsoft.card.adaptive",
                                          value=CARD_V2)

    async def on_teams_task_module_fetch(self, turn_context: TurnContext,
                                         task_module_request: TaskModuleRequest) -> TaskModuleResponse:
        self.seen["task/fetch"] = task_module_request.data
        return TaskModuleResponse(task=TaskModuleMessageResponse(value="ok"))

    async def on_teams_task_module_submit(self, turn_context: TurnContext,
                                          task_module_request: TaskModuleRequest) -> TaskModuleResponse:
        self.seen["task/submit"] = task_module_request.data
        return TaskModuleResponse(task=TaskModuleMessageResponse(value="Incident declared"))

    async def on_teams_messaging_extension_fetch_task(
            self, turn_context: TurnContext, action: MessagingExtensionAction) -> MessagingExtensionActionResponse:
        self.seen["fetchTask"] = action
        return MessagingExtensionActionResponse()

    async def on_teams_messaging_extension_submit_action(
            self, turn_context: TurnContext, action: MessagingExtensionAction) -> MessagingExtensionActionResponse:
        self.seen["submitAction"] = action
        return MessagingExtensionActionResponse()

    async def on_teams_members_added(self, teams_members_added: list[TeamsChannelAccount], team_info: TeamInfo,
                                     turn_context: TurnContext) -> None:
        self.seen["added"] = ([m.id for m in teams_members_added], team_info.id, team_info.name)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        self.seen["installed"] = TeamsChannelData().deserialize(turn_context.activity.channel_data).settings


async def test_builders_reach_the_right_sdk_handlers(fake: FakeConnector, adapter: CloudAdapter) -> None:
    bot = RecordingBot()
    url = fake.url

    async def deliver(activity: dict[str, Any]) -> Any:
        response = await adapter.process_activity("", Activity().deserialize(activity), bot.on_turn)
        return response.status if response else None

    post = ta.channel_message("declare db down", service_url=url)
    assert await deliver(post) is None
    assert bot.seen["message"] == "declare db down" and [m.text for m in fake.thread(post["id"])] == ["On it"]

    assert await deliver(ta.card_action_invoke("incident.ack", {"incidentId": "7"}, reply_to_id="9",
                                               service_url=url)) == 200
    assert bot.seen["card"]["verb"] == "incident.ack" and bot.seen["card"]["data"] == {"incidentId": "7"}

    assert await deliver(ta.task_fetch({"incidentId": "7"}, service_url=url, reply_to_id="9")) == 200
    assert bot.seen["task/fetch"]["incidentId"] == "7"
    assert await deliver(ta.task_submit({"title": "DB down"}, service_url=url)) == 200
    assert bot.seen["task/submit"] == {"title": "DB down"}

    assert await deliver(ta.message_action_fetch("<p>checkout 500s</p>", service_url=url)) == 200
    fetched: MessagingExtensionAction = bot.seen["fetchTask"]
    assert (fetched.command_id, fetched.command_context) == ("declareIncident", "message")
    assert fetched.message_payload.body.content == "<p>checkout 500s</p>"
    assert fetched.message_payload.from_property.user.id == Users.BOB.aad_object_id
    assert await deliver(ta.message_action_submit({"title": "Checkout down"}, service_url=url,
                                                  message_text_html="<p>checkout 500s</p>")) == 200
    assert bot.seen["submitAction"].data == {"title": "Checkout down"}

    await deliver(ta.conversation_update_bot_added(service_url=url))
    assert bot.seen["added"] == ([f"28:{ta.BOT_APP_ID}"], TEAM_ID, "Operations")
    await deliver(ta.installation_update(service_url=url, channel_id=CHANNEL_ID))
    assert bot.seen["installed"].selected_channel.id == CHANNEL_ID
    assert [r.operation for r in fake.requests] == ["reply"]  # nothing else reached the connector
