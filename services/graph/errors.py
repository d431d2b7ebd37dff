"""Turns what msgraph-sdk raises into services.delivery errors the outbox understands.

Graph's own error code and message are kept in the text, because they are what an admin searches
for; the known configuration mistakes get the fix appended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
from kiota_abstractions.api_error import APIError
from kiota_authentication_azure._exceptions import KiotaAuthenticationError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from services.delivery import DeliveryError, PermanentDeliveryError, TransientDeliveryError, classify_status

PERMISSIONS_DOC = "infra/graph-permissions.md"
ACCESS_POLICY_FIX = (f"fix: grant Beacon's app an application access policy for the organizer "
                     f"(see {PERMISSIONS_DOC}#application-access-policy; changes take up to 30 minutes)")
MAILBOX_ACCESS_FIX = ("fix: grant the {permission} application permission with admin consent and, if an "
                      "Exchange application access policy restricts the app, include the {mailbox} mailbox "
                      f"(see {PERMISSIONS_DOC}#application-access-policy)")
TENANT_MISMATCH_HINT = ("users of another tenant (federated clients, vendors, Microsoft support) cannot be "
                        "rung by Beacon's calling bot; they join through the meeting invitation instead")


def mailbox_access_fix(permission: str, mailbox: str) -> str:
    return MAILBOX_ACCESS_FIX.format(permission=permission, mailbox=mailbox)


def _error_parts(error: APIError) -> tuple[int, str, str]:
    status = error.response_status_code or 0
    if isinstance(error, ODataError) and error.error is not None:
        return status, error.error.code or "", error.error.message or ""
    if isinstance(error, ODataError):  # a bare {"code", "message"} body, as seen for 7505 (facts §10.22)
        data = error.additional_data
        return status, str(data.get("code") or ""), str(data.get("message") or "")
    return status, "", error.message or ""


def _retry_after(error: APIError) -> str | None:
    headers = error.response_headers
    if isinstance(headers, Mapping):  # httpx.Headers is case-insensitive, a plain dict may not be
        for name, value in headers.items():
            if name.lower() == "retry-after":
                return str(value)
    return None


def _known_fix(status: int, code: str, message: str, access_denied_fix: str | None) -> str | None:
    text = f"{code} {message}".lower()
    if "not authorized to create meeting on behalf of user" in text:
        return ACCESS_POLICY_FIX
    if status == 403 and code == "ErrorAccessDenied" and access_denied_fix:
        return access_denied_fix
    if code == "7505" or "tenant mismatch" in text:
        return TENANT_MISMATCH_HINT
    return None


def from_api_error(operation: str, error: APIError, access_denied_fix: str | None = None) -> DeliveryError:
    status, code, message = _error_parts(error)
    answer = " ".join(part for part in (str(status or ""), code) if part)
    text = f"Graph {operation} failed: {answer}: {message}" if message else f"Graph {operation} failed: {answer}"
    fix = _known_fix(status, code, message, access_denied_fix)
    if fix:
        return PermanentDeliveryError(f"{text} — {fix}", status=status)
    if not status:
        return TransientDeliveryError(text)
    return classify_status(status, text, _retry_after(error))


def from_exception(operation: str, error: Exception, access_denied_fix: str | None = None) -> DeliveryError | None:
    """The delivery error for anything raised while talking to Graph; None to let it propagate."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, APIError):
        return from_api_error(operation, error, access_denied_fix)
    if isinstance(error, (httpx.TimeoutException, asyncio.TimeoutError)):
        return TransientDeliveryError(f"Graph {operation} timed out: {error!r}")
    if isinstance(error, (httpx.TransportError, ServiceRequestError, ServiceResponseError, OSError)):
        return TransientDeliveryError(f"Graph {operation}: connection failed: {error!r}")
    if isinstance(error, ClientAuthenticationError):
        # A wrong secret or a missing identity will not fix itself by retrying.
        return PermanentDeliveryError(f"Graph {operation}: could not get a token: {error.message}")
    if isinstance(error, KiotaAuthenticationError):  # e.g. "Only https is supported"
        return PermanentDeliveryError(f"Graph {operation}: {error} (check GRAPH_BASE_URL)")
    return None


@contextmanager
def graph_errors(operation: str, *, access_denied_fix: str | None = None) -> Iterator[None]:
    """`with graph_errors("create meeting"): await ...` raises only services.delivery errors.

    `access_denied_fix` is appended to a 403 ErrorAccessDenied: what the admin has to grant.
    """
    try:
        yield
    except Exception as error:
        mapped = from_exception(operation, error, access_denied_fix)
        if mapped is None or mapped is error:
            raise
        raise mapped from error
