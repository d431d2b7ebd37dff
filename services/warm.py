"""Loads, once at start-up and in a thread of its own, two sets of modules that would otherwise load
on the event loop the first time a request needs them:

- the report renderer: services.review.pdf and services.review.render, with matplotlib and fpdf2;
- when Graph is configured, the Graph models of the events, online meetings, calls, users, error
  answers and send-mail requests Beacon uses. Each is parsed from a trimmed Graph answer
  (GRAPH_ANSWERS) and serialised again, because the SDK imports a model's field types only when one
  is first parsed or serialised (an event pulls in about 1,200 modules).

Nothing else is loaded ahead of use. The thread is a daemon: start-up and shutdown never wait for
it. A request that imports a module the thread is still loading waits for that import to finish
(Python's import lock); the event loop is blocked meanwhile, though not spending CPU on the import.
A failure only means the first use loads the module instead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

# What Graph answers for the calls Beacon makes, trimmed to the fields whose types must load.
GRAPH_ANSWERS: dict[str, dict[str, Any]] = {
    "event": {"id": "e", "subject": "s", "body": {"contentType": "html", "content": "b"},
              "start": {"dateTime": "2026-01-01T00:00:00", "timeZone": "UTC"},
              "end": {"dateTime": "2026-01-01T01:00:00", "timeZone": "UTC"},
              "attendees": [{"emailAddress": {"address": "a@example.com", "name": "A"}, "type": "required",
                             "status": {"response": "none", "time": "2026-01-01T00:00:00Z"}}],
              "organizer": {"emailAddress": {"address": "o@example.com", "name": "O"}},
              "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness",
              "onlineMeeting": {"joinUrl": "https://teams.example/l/meetup-join/x", "conferenceId": "1",
                                "tollNumber": "+1 555 0100"}},
    "online_meeting": {"id": "m", "joinWebUrl": "https://teams.example/l/meetup-join/x", "subject": "s",
                       "startDateTime": "2026-01-01T00:00:00Z", "externalId": "x",
                       "participants": {"organizer": {"upn": "o@example.com", "identity": {"user": {"id": "1"}}},
                                        "attendees": [{"upn": "a@example.com", "role": "attendee"}]},
                       "audioConferencing": {"conferenceId": "1", "tollNumber": "+1 555 0100"}},
    "call": {"id": "c", "state": "establishing", "callbackUri": "https://beacon.example/api/calls",
             "targets": [{"identity": {"user": {"id": "1", "displayName": "A"}}}],
             "source": {"identity": {"application": {"id": "app"}}}, "requestedModalities": ["audio"],
             "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}},
    "user": {"id": "u", "displayName": "A", "mail": "a@example.com", "userPrincipalName": "a@example.com"},
    "error": {"error": {"code": "c", "message": "m", "innerError": {"request-id": "r", "date": "2026-01-01T00:00:00"}}},
}


def _round_trip(model: type, answer: dict[str, Any]) -> None:
    from kiota_serialization_json.json_parse_node import JsonParseNode
    from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter

    value = JsonParseNode(answer).get_object_value(model)
    JsonSerializationWriter().write_object_value(None, value)


def warm_graph() -> None:
    from msgraph.generated.models.call import Call
    from msgraph.generated.models.event import Event
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.online_meeting import OnlineMeeting
    from msgraph.generated.models.user import User
    from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

    for model, answer in ((Event, "event"), (OnlineMeeting, "online_meeting"), (Call, "call"), (User, "user"),
                          (ODataError, "error")):
        _round_trip(model, GRAPH_ANSWERS[answer])
    _round_trip(SendMailPostRequestBody, {"message": {"subject": "s", "body": {"contentType": "html", "content": "b"},
                                                      "toRecipients": [{"emailAddress": {"address": "a@example.com"}}]},
                                          "saveToSentItems": False})


def warm_report() -> None:
    import services.review.pdf  # noqa: F401  matplotlib and fpdf2
    import services.review.render  # noqa: F401


def warm_up(*, graph: bool) -> None:
    started = time.monotonic()
    try:
        warm_report()
        if graph:
            warm_graph()
    except Exception:  # a failure here only means the first use loads it instead
        log.warning("loading the report renderer or Graph models ahead of use failed", exc_info=True)
        return
    log.info("report renderer%s loaded in %.1f s", " and Graph models" if graph else "", time.monotonic() - started)


def start_warm_up(*, graph: bool) -> threading.Thread:
    thread = threading.Thread(target=warm_up, kwargs={"graph": graph}, name="beacon-warm-up", daemon=True)
    thread.start()
    return thread
