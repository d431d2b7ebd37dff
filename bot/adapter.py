"""The Bot Framework adapter, with our HTTP handling of /api/messages.

botbuilder 4.17's CloudAdapter.process serializes an invoke body twice and answers every invoke
that has a body with HTTP 500 (microsoft/teams-sdk#2547: 'dict' object has no attribute
'is_xml_model'); it also answers malformed bodies with tracebacks. We read and check the request
ourselves and write the invoke response once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from botbuilder.core import Bot, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ResourceResponse
from msrest.serialization import Model

from bot.auth import CachingBotFrameworkAuthentication, activity_tenant, install_sdk_fixes, parameterized_settings
from bot.card_ledger import CardLedger
from services.logs import activity_var, incident_var
from services.settings import Settings
from services.store.db import DatabaseUnavailable, database_unavailable

log = logging.getLogger("beacon.bot")
MAX_ACTIVITY_BYTES = 256 * 1024


class BotConfiguration:
    """The attribute names ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings):
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password
        self.APP_TYPE = settings.bot_app_type
        self.APP_TENANTID = settings.app_tenant_id
        if settings.openid_metadata_url:
            for name, value in parameterized_settings(settings.openid_metadata_url).items():
                setattr(self, name, value)


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class BeaconAdapter(CloudAdapter):
    def __init__(self, settings: Settings):
        settings.check_registration()  # the SDK's own errors do not say which setting to fix
        install_sdk_fixes()
        super().__init__(CachingBotFrameworkAuthentication(BotConfiguration(settings)))
        self.app_id = settings.app_id
        self.allowed_tenants = settings.allowed_tenants
        self.on_turn_error = self._on_turn_error
        self.ledger: CardLedger | None = None  # notes which incident each card message belongs to

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        responses = await super().send_activities(context, activities)
        if self.ledger is not None:
            await self.ledger.sent(context, activities, list(responses or []))
        return responses

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        if database_unavailable(error):
            raise DatabaseUnavailable(str(error)) from error  # answered 503 by handle()
        log.exception("unhandled error in a turn", exc_info=error)

    async def handle(self, request: web.Request, bot: Bot) -> web.Response:
        activity_or_error = await read_activity(request)
        if isinstance(activity_or_error, web.Response):
            return activity_or_error
        activity_var.set(activity_or_error.id)  # this request's task only: every log line of the turn
        incident_var.set(_incident_of(activity_or_error))
        header = request.headers.get("Authorization", "")
        if header and not self.app_id:
            # The SDK would try to parse it and answer 500; without an app id no token is valid.
            return json_error(401, "this Beacon has no MicrosoftAppId, so it accepts only "
                                   "unauthenticated requests (Bot Framework Emulator); drop the token "
                                   "or configure MicrosoftAppId")
        tenant = activity_tenant(activity_or_error)
        if self.allowed_tenants and tenant not in self.allowed_tenants:
            log.warning("refused an activity from tenant %r (not in ALLOWED_TENANT_IDS)", tenant)
            return json_error(403, "this tenant is not allowed to use this Beacon")
        try:
            response = await self.process_activity(header, activity_or_error, bot.on_turn)
        except PermissionError as error:
            return json_error(401, f"unauthorized: {error}")
        except DatabaseUnavailable:
            raise  # the app's middleware answers 503 with Retry-After
        except Exception as error:  # a malformed or forged token fails inside the SDK's JWT code
            log.warning("refused an activity whose token did not validate: %s", error)
            return json_error(401, "unauthorized: the bearer token is not valid")
        if response is None:
            return web.Response(status=201)
        body = serializer_helper(response.body) if isinstance(response.body, Model) else response.body
        return web.json_response(body, status=response.status)


async def read_activity(request: web.Request) -> Activity | web.Response:
    """Parse an activity, or answer 4xx with a JSON error that says what is wrong."""
    kind = request.content_type  # the media type alone: "text/plain; x=application/json" is not JSON
    if kind != "application/json" and not kind.endswith("+json"):
        return json_error(415, "Content-Type must be application/json")
    if request.content_length is not None and request.content_length > MAX_ACTIVITY_BYTES:
        return json_error(413, f"activity larger than {MAX_ACTIVITY_BYTES} bytes")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # a chunked body over the app's client_max_size
        return json_error(413, f"activity larger than {MAX_ACTIVITY_BYTES} bytes")
    except web.RequestPayloadError as error:  # e.g. Content-Encoding: gzip over bytes that are not gzip
        return json_error(400, f"the body could not be read: {getattr(error.__cause__, 'message', error)}"[:300])
    if len(raw) > MAX_ACTIVITY_BYTES:
        return json_error(413, f"activity larger than {MAX_ACTIVITY_BYTES} bytes")
    try:
        body: Any = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # also too deep, or a huge number
        return json_error(400, f"body is not valid JSON: {str(error)[:200]}")
    if not isinstance(body, dict):
        return json_error(400, "body must be a JSON object (a Bot Framework activity)")
    for key in ("type", "serviceUrl", "conversation", "from"):
        if not body.get(key):
            return json_error(400, f"activity has no {key}")
    if not isinstance(body["conversation"], dict) or not isinstance(body["from"], dict):
        return json_error(400, "activity conversation and from must be objects")
    # msrest would turn a list or a number into its Python repr, and Beacon would answer at that "URL".
    for key, value in (("type", body["type"]), ("serviceUrl", body["serviceUrl"]),
                       ("conversation.id", body["conversation"].get("id", ""))):
        if not isinstance(value, str):
            return json_error(400, f"activity {key} must be a string")
    try:
        activity = Activity().deserialize(body)
    except Exception as error:  # msrest raises several kinds on wrong types
        return json_error(400, f"activity could not be read: {str(error)[:300]}")
    if not activity.conversation or not activity.conversation.id:
        return json_error(400, "activity has no conversation.id")
    return activity


def _incident_of(activity: Activity) -> int | None:
    """The incident a card action names (Action.Execute data or a dialog's data), for the logs."""
    value = activity.value if isinstance(activity.value, dict) else {}
    action = value.get("action")
    action_data = action.get("data") if isinstance(action, dict) else None
    for data in (action_data, value.get("data"), value):
        if isinstance(data, dict) and str(data.get("incidentId", "")).isdigit():
            return int(data["incidentId"])
    return None
