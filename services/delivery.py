"""How an adapter tells the outbox whether a failed effect is worth trying again.

Adapters to outside systems raise these instead of library-specific errors, so the outbox worker
can retry transient failures (honouring Retry-After) and give up on permanent ones.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """An effect on an outside system did not happen."""

    transient = False

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None,
                 where: str = ""):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.where = where  # the conversation, mailbox or resource that answered, when it matters


class TransientDeliveryError(DeliveryError):
    """Worth retrying later: 429, 5xx, timeouts, connection resets."""

    transient = True

    @property
    def counts_as_attempt(self) -> bool:
        """A 429 is the system asking Beacon to slow down, not a failure of the effect: it never
        uses up an attempt (nor does waiting for something else, see NotYet)."""
        return self.status != 429


class NotYet(TransientDeliveryError):
    """The effect waits for something else first (an incident's post waits for its thread's root
    card); tried again after `retry_after` seconds, never counted as an attempt."""

    @property
    def counts_as_attempt(self) -> bool:
        return False


class Paced(NotYet):
    """Teams' per-conversation limits leave no turn now: the effect keeps its place in the
    conversation's queue and comes back at its turn (services/pacing.py), never counted."""


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: 4xx other than 408/429, bad configuration, refused by policy."""


class NotConfigured(PermanentDeliveryError):
    """The outside system has no settings; the effect is recorded as not sent."""

    def __init__(self, system: str):
        super().__init__(f"not sent: {system} not configured")
        self.system = system


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date; both become seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify_status(status: int, message: str, retry_after: str | None = None) -> DeliveryError:
    """Map an HTTP status from an outside system to a transient or permanent delivery error."""
    if status in (408, 409, 412, 425, 429) or status >= 500:
        return TransientDeliveryError(message, retry_after=parse_retry_after(retry_after), status=status)
    return PermanentDeliveryError(message, status=status)
