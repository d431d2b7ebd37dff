"""Outbound Freshdesk API v2: the Ticketing port over httpx.

There is no retry loop here on purpose: every call is one outbox delivery, and the outbox worker
retries transient failures with backoff (honouring Retry-After). Retrying here as well would
multiply the waits and hold the worker. Calls are paced under Freshdesk's rate limit with a
reserve for new incidents' tickets (budget.py): a call held back raises a transient 429 that the
outbox does not count as an attempt. Failures become services.delivery errors whose text says
what an admin should fix. The API key is only ever in the Authorization header, never in a
message or a log line.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from services.delivery import (
    DeliveryError,
    NotConfigured,
    PermanentDeliveryError,
    TransientDeliveryError,
    classify_status,
    parse_retry_after,
)
from services.freshdesk.budget import ApiBudget, RateLimit
from services.freshdesk.settings import FreshdeskSettings
from services.ports import Ticket, TicketRequest

log = logging.getLogger("beacon.freshdesk")

MAX_CONVERSATION_PAGES = 10  # a ticket with more than 1,000 conversations: Beacon's replies are not old ones
API_KEY_HINT = "check FRESHDESK_API_KEY (Freshdesk → Profile settings → View API key)"


__all__ = ["FreshdeskClient", "RateLimit", "build_ticketing"]


class FreshdeskClient:
    """Ticketing on one Freshdesk helpdesk. Close with `aclose()` (or use `async with`)."""

    def __init__(self, settings: FreshdeskSettings) -> None:
        if not settings.configured:
            raise NotConfigured("Freshdesk")
        self._settings = settings
        self.budget = ApiBudget(settings.reserve_for_tickets, settings.rate_limit_window_seconds)
        self._http = httpx.AsyncClient(
            base_url=settings.api_base,
            # Freshdesk's documented scheme: the key as user name and any dummy password.
            auth=httpx.BasicAuth(settings.api_key.get_secret_value(), "X"),
            headers={"Accept": "application/json", "User-Agent": "Beacon"},
            timeout=settings.timeout_seconds,
            follow_redirects=False,  # a redirect means a wrong FRESHDESK_URL; say so instead
        )

    async def __aenter__(self) -> FreshdeskClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def rate_limit(self) -> RateLimit | None:
        """Freshdesk's budget as its last answer told it."""
        return self.budget.last

    def ticket_url(self, ticket_id: int) -> str:
        return self._settings.ticket_url(ticket_id)

    async def create_ticket(self, request: TicketRequest) -> Ticket:
        body: dict[str, Any] = {
            "subject": request.subject,
            "description": request.description_html,
            "email": request.requester_email,
            "priority": request.priority,
            "status": request.status,
            "source": self._settings.ticket_source,
            "tags": list(request.tags),
        }
        if request.custom_fields:  # Freshdesk rejects an unknown custom field, so send none unasked
            body["custom_fields"] = dict(request.custom_fields)
        response = await self._call("create a ticket", "POST", "/tickets", json=body, urgent=True)
        data = _json_object(response, "create a ticket")
        ticket_id = data.get("id")
        if not isinstance(ticket_id, int):
            raise PermanentDeliveryError(f"Freshdesk created a ticket but its answer has no ticket id: {data!r:.200}",
                                         status=response.status_code)
        log.info("Freshdesk ticket %s created", ticket_id)
        return Ticket(id=ticket_id, url=self.ticket_url(ticket_id))

    async def update_ticket(self, ticket_id: int, *, priority: int | None = None,
                            status: int | None = None) -> None:
        # Only what changed: a PUT with other fields could overwrite an agent's edits in Freshdesk.
        body = {name: value for name, value in (("priority", priority), ("status", status)) if value is not None}
        if not body:
            return
        await self._call(f"update ticket {ticket_id}", "PUT", f"/tickets/{ticket_id}", json=body)
        log.info("Freshdesk ticket %s updated: %s", ticket_id, ", ".join(sorted(body)))

    async def add_note(self, ticket_id: int, body_html: str, *, private: bool) -> None:
        await self._call(f"add a note to ticket {ticket_id}", "POST", f"/tickets/{ticket_id}/notes",
                         json={"body": body_html, "private": private})
        log.info("Freshdesk ticket %s: %s note added", ticket_id, "private" if private else "public")

    async def reply(self, ticket_id: int, body_html: str) -> None:
        """A public reply: Freshdesk emails it to the ticket's requester."""
        await self._call(f"reply to ticket {ticket_id}", "POST", f"/tickets/{ticket_id}/reply",
                         json={"body": body_html})
        log.info("Freshdesk ticket %s: public reply sent", ticket_id)

    async def has_reply(self, ticket_id: int, reference: str) -> bool:
        """Whether an outgoing public reply on the ticket carries `reference` (an earlier attempt's
        reply whose answer was lost). Freshdesk lists conversations oldest first, 100 a page."""
        mark = re.compile(rf"(?<![\w-]){re.escape(reference)}(?![\w-])")  # INC-7-U3 is not INC-7-U31
        for page in range(1, MAX_CONVERSATION_PAGES + 1):
            response = await self._call(f"read the replies on ticket {ticket_id}", "GET",
                                        f"/tickets/{ticket_id}/conversations",
                                        params={"per_page": 100, "page": page})
            found = _json(response)
            if not isinstance(found, list):
                return False
            if any(isinstance(c, dict) and not c.get("private") and not c.get("incoming")
                   and mark.search(f"{c.get('body_text') or ''} {c.get('body') or ''}") for c in found):
                return True
            if len(found) < 100:
                return False
        return False

    async def check(self) -> str:
        """Pre-flight for the doctor: one cheap authenticated read. Raises DeliveryError on failure,
        whose text is the sentence to show."""
        response = await self._call("list tickets", "GET", "/tickets", params={"per_page": 1}, urgent=True)
        if not isinstance(_json(response), list):
            raise PermanentDeliveryError(f"{self._settings.url} answered, but not like Freshdesk's API: "
                                         "is FRESHDESK_URL the https://<domain>.freshdesk.com address?")
        budget = ""
        if self.rate_limit:
            budget = f"; {self.rate_limit.remaining} of {self.rate_limit.total} API calls left this minute"
        return f"Freshdesk at {self._settings.url} accepts the API key and can read tickets{budget}."

    async def _call(self, operation: str, method: str, path: str, *, urgent: bool = False,
                    **kwargs: Any) -> httpx.Response:
        """One API call. `urgent`: creating a new incident's ticket (or finding it), which may use
        the reserve of the budget; anything else waits while only the reserve is left."""
        wait = self.budget.wait(urgent=urgent)
        if wait > 0:
            raise TransientDeliveryError(f"Freshdesk's API budget is {self._budget_words()}: waiting "
                                         f"{wait:.1f}s to {operation}", retry_after=wait, status=429)
        self.budget.started()
        response: httpx.Response | None = None
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            # Freshdesk may still be carrying the request out: give it as long again before the
            # outbox retries, so the retry of a create finds the ticket by search instead of doubling it.
            raise TransientDeliveryError(f"Freshdesk did not answer within {self._settings.timeout_seconds:g}s "
                                         f"to {operation} ({type(error).__name__})",
                                         retry_after=self._settings.timeout_seconds) from error
        except httpx.UnsupportedProtocol as error:
            raise PermanentDeliveryError(f"FRESHDESK_URL {self._settings.url} is not usable: {error}") from error
        except httpx.TransportError as error:
            raise TransientDeliveryError(f"Freshdesk could not be reached to {operation}: {error!r}") from error
        finally:
            self._note_rate_limit(response)
        if response.is_success:
            return response
        raise self._error(operation, response)

    def _budget_words(self) -> str:
        last = self.budget.last
        if last is None:
            return "used up (429)"
        return f"at {last.remaining} of {last.total} calls this window (the reserve for new incidents' tickets)"

    def _note_rate_limit(self, response: httpx.Response | None) -> None:
        limit = self.budget.answered(response.headers if response is not None else None)
        if response is not None and response.status_code == 429:
            self.budget.refused(parse_retry_after(response.headers.get("Retry-After")))
        # Invalid requests count too, so a low budget is worth a line before it turns into 429s.
        if limit is not None and limit.remaining * 10 < limit.total:
            log.warning("Freshdesk API budget low: %s of %s calls left this window", limit.remaining, limit.total)

    def _error(self, operation: str, response: httpx.Response) -> DeliveryError:
        status = response.status_code
        detail = _describe(response)
        if 300 <= status < 400:
            return PermanentDeliveryError(
                f"Freshdesk answered {status} (redirect to {response.headers.get('Location', '?')}) to {operation}: "
                "set FRESHDESK_URL to the https://<domain>.freshdesk.com address", status=status)
        if status == 400:
            return PermanentDeliveryError(f"Freshdesk refused to {operation}: {detail}", status=status)
        if status == 401:
            return PermanentDeliveryError(f"Freshdesk rejected the API key (401) trying to {operation}: "
                                          f"{API_KEY_HINT}, for {self._settings.url}", status=status)
        if status == 403:
            return PermanentDeliveryError(f"Freshdesk's API key has no access to {operation} (403): the agent "
                                          f"who owns the key lacks that permission or the plan lacks API "
                                          f"access ({detail})", status=status)
        if status == 404:
            return PermanentDeliveryError(f"Freshdesk found nothing to {operation} (404): deleted or merged, "
                                          f"or FRESHDESK_URL points at another helpdesk", status=status)
        if status == 409:
            # Freshdesk's 409 is a conflict in the data (e.g. a duplicate unique field); a retry repeats it.
            return PermanentDeliveryError(f"Freshdesk refused to {operation} (409 conflict): {detail}",
                                          status=status)
        if status == 429:
            return classify_status(status, f"Freshdesk rate limit reached (429) trying to {operation}",
                                   response.headers.get("Retry-After"))
        return classify_status(status, f"Freshdesk failed to {operation}: {status} {detail}",
                               response.headers.get("Retry-After"))


def build_ticketing(settings: FreshdeskSettings) -> tuple[FreshdeskClient | None, str]:
    """The Freshdesk client, or None and the reason for the start-up report."""
    missing = settings.missing()
    if missing:
        return None, "Freshdesk not configured: " + "; ".join(missing)
    return FreshdeskClient(settings), ""


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json_object(response: httpx.Response, operation: str) -> dict[str, Any]:
    data = _json(response)
    if not isinstance(data, dict):
        raise PermanentDeliveryError(f"Freshdesk's answer to {operation} is not a JSON object: "
                                     "is FRESHDESK_URL the helpdesk's address?", status=response.status_code)
    return data


def _describe(response: httpx.Response) -> str:
    """Freshdesk's own words: each field error of a validation failure, or its code and message."""
    data = _json(response)
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            fields = "; ".join(_field_error(error) for error in errors if isinstance(error, dict))
            return f"{data.get('description') or 'Validation failed'}: {fields}"
        words = " ".join(str(data[key]) for key in ("code", "message", "description") if data.get(key))
        if words:
            return words
    if "html" in response.headers.get("Content-Type", ""):
        return "an HTML page instead of JSON (is FRESHDESK_URL the helpdesk's address?)"
    return response.text.strip()[:200] or response.reason_phrase


def _field_error(error: dict[str, Any]) -> str:
    field = error.get("field") or "(ticket)"
    code = f" ({error['code']})" if error.get("code") else ""
    return f"{field}: {error.get('message', 'invalid')}{code}"
