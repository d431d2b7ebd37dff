"""Loads, once at start-up and off the event loop, what Beacon would otherwise load on first use in the
middle of a request: the Microsoft Graph models Beacon sends and reads, when Graph is configured. The
Graph SDK's models import their field types only when one is first serialised or
parsed (an event pulls in about 1,200 modules), which took the event loop for seconds on the first
bridge or review of a process, so every other click and post waited. A daemon thread: start-up and
shutdown never wait for it. A request that imports a module the thread is still loading waits for
that import to finish (Python's import lock): the event loop is blocked meanwhile, though not
spending CPU on the import. A failure only means the first use loads the module instead.

The report renderer (matplotlib, fpdf2: about 60 MB) is not loaded here: a process that never draws a
chart or a PDF does not carry it, and the first one loads it in the drawing thread (bot/review.py),
where the event loop does not wait for it either. `warm_report` loads it for whoever wants it ahead."""

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
    if not graph:
        return
    started = time.monotonic()
    try:
        warm_graph()
    except Exception:  # a failure here only means the first use loads it instead
        log.warning("loading the Graph models ahead of use failed", exc_info=True)
        return
    log.info("Graph models loaded in %.1f s", time.monotonic() - started)


def start_warm_up(*, graph: bool) -> threading.Thread | None:
    """The warm-up thread, or None when there is nothing to load (Graph is not configured)."""
    if not graph:
        return None
    thread = threading.Thread(target=warm_up, kwargs={"graph": graph}, name="beacon-warm-up", daemon=True)
    thread.start()
    return thread
