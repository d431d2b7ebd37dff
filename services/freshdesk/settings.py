"""Freshdesk settings, with CONTRACT.md's names (environment variables or `.env`).

FRESHDESK_URL is the helpdesk's own address (https://yourcompany.freshdesk.com); the API lives
under /api/v2 and agents open tickets under /a/tickets. Plain http is accepted only for loopback,
where the tests' fake Freshdesk runs: anywhere else the API key would travel in clear text.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.rotation import accepted_values

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class FreshdeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    url: str = Field("", validation_alias="FRESHDESK_URL")
    api_key: SecretStr = Field(SecretStr(""), validation_alias="FRESHDESK_API_KEY")
    # Inbound only: the secret Freshdesk's automation webhook presents; comma-separated during a
    # rotation, when each value is accepted (services/rotation.py).
    webhook_secret: SecretStr = Field(SecretStr(""), validation_alias="FRESHDESK_WEBHOOK_SECRET")
    # Bounded so one outbox delivery never blocks the worker for long; the outbox retries instead.
    timeout_seconds: float = Field(15.0, gt=0, validation_alias="FRESHDESK_TIMEOUT_SECONDS")
    # 2 = Portal. Email (1) would make Freshdesk treat the ticket as an inbound customer email.
    ticket_source: int = Field(2, ge=1, validation_alias="FRESHDESK_TICKET_SOURCE")
    # The share of Freshdesk's per-window API budget that only new incidents' tickets may use:
    # updates, notes and replies to customers wait while no more than this is left (budget.py).
    reserve_for_tickets: float = Field(0.2, ge=0, lt=1, validation_alias="FRESHDESK_RESERVE_FOR_TICKETS")
    # The window Freshdesk's limit counts in: a minute on most plans, an hour on some newer ones.
    rate_limit_window_seconds: float = Field(60.0, gt=0, validation_alias="FRESHDESK_RATE_LIMIT_WINDOW_SECONDS")

    @field_validator("url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        """Accept what people paste: a bare domain, a trailing slash, or the /api/v2 address."""
        value = (value or "").strip().rstrip("/")
        if value and "://" not in value:
            value = "https://" + value
        if value.endswith("/api/v2"):
            value = value[: -len("/api/v2")]
        return value

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """Every webhook secret accepted now: more than one while a rotation is under way."""
        return accepted_values(self.webhook_secret)

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v2"

    def ticket_url(self, ticket_id: int) -> str:
        """Where an agent opens the ticket (the link shown on incident cards)."""
        return f"{self.url}/a/tickets/{ticket_id}"

    def missing(self) -> list[str]:
        """What stops Beacon from calling Freshdesk, in words for the start-up report."""
        problems: list[str] = []
        if not self.url:
            problems.append("FRESHDESK_URL (https://yourcompany.freshdesk.com) is empty")
        else:
            problems.extend(self._url_problems())
        if not self.api_key.get_secret_value():
            problems.append("FRESHDESK_API_KEY (Profile settings → View API key in Freshdesk) is empty")
        return problems

    @property
    def configured(self) -> bool:
        return not self.missing()

    def _url_problems(self) -> list[str]:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return [f"FRESHDESK_URL {self.url!r} is not an http(s) URL"]
        if parts.scheme == "http" and parts.hostname.lower() not in LOCAL_HOSTS:
            return [f"FRESHDESK_URL {self.url} is plain http: Freshdesk serves its API over https only "
                    "and the API key must not travel in clear text"]
        return []
