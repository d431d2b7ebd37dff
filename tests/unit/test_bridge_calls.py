"""Graph's call notifications (commsNotifications) are read strictly, before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from services.bridge.calls import CallNotification, NotificationRejected, parse_notifications

# Facts §10.6 / §10.7 (application-post-calls, Example 1), verbatim.
ESTABLISHING = {
    "@odata.type": "#microsoft.graph.commsNotifications",
    "value": [{"@odata.type": "#microsoft.graph.commsNotification", "changeType": "updated",
               "resourceUrl": "/communications/calls/2e1a0b00-2db4-4022-9570-243709c565ab",
               "callbackUri": "https://bot.contoso.com/callback",
               "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "establishing",
                                "id": "2e1a0b00-2db4-4022-9570-243709c565ab"}}],
}
ESTABLISHED = {
    "@odata.type": "#microsoft.graph.commsNotifications",
    "value": [{"@odata.type": "#microsoft.graph.commsNotification", "changeType": "updated",
               "resourceUrl": "/communications/calls/2e1a0b00-b3c5-4b0f-99b3-c133bc1e6116",
               "callbackUri": "https://bot.contoso.com/callback",
               "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "established",
                                "direction": "outgoing", "id": "2e1a0b00-b3c5-4b0f-99b3-c133bc1e6116"}}],
}
# The roster update of the Graph docs ("roster updated with participant muted"), shortened.
ROSTER = {
    "@odata.type": "#microsoft.graph.commsNotifications",
    "value": [{"@odata.type": "#microsoft.graph.commsNotification", "changeType": "updated",
               "resourceUrl": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/participants",
               "resourceData": [
                   {"@odata.type": "#microsoft.graph.participant", "id": "2765eb15-01f8-47c6-b12b-c32111a4a86f",
                    "info": {"identity": {"user": {"displayName": "Bob", "id": "5810cede-f3cc-42eb-b2c1-e9bd5d53ec96"}},
                             "region": "westus", "languageId": "en-US"},
                    "mediaStreams": [{"mediaType": "audio", "label": "main-audio"}], "isMuted": True},
                   {"@odata.type": "#microsoft.graph.participant", "id": "bot",
                    "info": {"identity": {"application": {"id": "app", "displayName": "Beacon"}}}}]}],
}


def test_the_documented_call_samples_are_understood():
    assert parse_notifications(ESTABLISHING) == [
        CallNotification("2e1a0b00-2db4-4022-9570-243709c565ab", "updated", "establishing")]
    assert parse_notifications(ESTABLISHED)[0].state == "established"


def test_a_roster_update_lists_the_people_but_not_beacon_itself():
    [note] = parse_notifications(ROSTER)
    assert note.participants == (("5810cede-f3cc-42eb-b2c1-e9bd5d53ec96", "Bob"),) and note.state is None


def test_a_deleted_call_is_terminated_with_its_reason():
    body = {"value": [{"changeType": "deleted", "resourceUrl": "/communications/calls/abc",
                       "resourceData": {"state": "terminated", "resultInfo": {"code": 0, "message": "Call ended"}}}]}
    assert parse_notifications(body) == [CallNotification("abc", "deleted", "terminated", "Call ended")]


def test_operation_notifications_of_a_call_are_accepted_without_a_state():
    body = {"value": [{"changeType": "deleted",
                       "resourceUrl": "/communications/calls/57DAB8B1894C409AB240BD8BEAE78896/operations/0FE0",
                       "resourceData": {"@odata.type": "#microsoft.graph.inviteParticipantsOperation"}}]}
    assert parse_notifications(body) == [CallNotification("57DAB8B1894C409AB240BD8BEAE78896", "deleted")]


@pytest.mark.parametrize("body, words", [
    ("text", "JSON object"),
    ({}, "non-empty list"),
    ({"value": "x"}, "non-empty list"),
    ({"value": [1]}, "value[0] must be an object"),
    ({"value": [{"changeType": "updated", "resourceUrl": "/chats/1"}]}, "resourceUrl"),
    ({"value": [{"changeType": "updated", "resourceUrl": 5}]}, "resourceUrl"),
    ({"value": [{"changeType": "moved", "resourceUrl": "/communications/calls/a"}]}, "changeType"),
    ({"value": [{"changeType": "updated", "resourceUrl": "/communications/calls/a", "resourceData": []}]},
     "must be an object"),
    ({"value": [{"changeType": "updated", "resourceUrl": "/communications/calls/a", "resourceData": {"state": 3}}]},
     "state must be a string"),
    ({"value": [{"changeType": "updated", "resourceUrl": "/communications/calls/a/participants",
                 "resourceData": [3]}]}, "resourceData[0] must be an object"),
    ({"value": [ESTABLISHED["value"][0]] * 101}, "at most 100"),
])
def test_malformed_notifications_are_rejected_with_what_is_wrong(body: Any, words: str):
    with pytest.raises(NotificationRejected, match=words.replace("[", r"\[").replace("]", r"\]")) as caught:
        parse_notifications(body)
    assert caught.value.status == 400
