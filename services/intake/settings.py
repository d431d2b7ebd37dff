"""Intake settings (environment variables or `.env`), with CONTRACT.md's names where it has them.

The Freshdesk connection itself (FRESHDESK_URL, FRESHDESK_API_KEY, FRESHDESK_WEBHOOK_SECRET) is
services.freshdesk.settings.FreshdeskSettings. What a ticket looks like is here, as environment
settings rather than BEACON_CONFIG keys: BEACON_CONFIG is the incident process, and these are
facts about one helpdesk (its custom fields, its default requester).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.durations import Duration
from services.rotation import accepted_values


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # The shared secret every monitoring webhook presents (Bearer header or ?token=). Empty:
    # alerts are refused with 503, because an open endpoint would let anyone open incidents.
    # Comma-separated during a rotation: each value is accepted (services/rotation.py).
    alerts_token: SecretStr = Field(SecretStr(""), validation_alias="ALERTS_WEBHOOK_TOKEN")
    # How long each monitoring post is kept verbatim with its outcome (services/intake/retention.py).
    alert_receipts_keep: Duration = Field(timedelta(days=30), validation_alias="ALERT_RECEIPTS_KEEP")
    # Who a Beacon-created ticket is "from". Empty: the incident's client's first contact.
    requester_email: str = Field("", validation_alias="FRESHDESK_REQUESTER_EMAIL")
    # JSON object of Freshdesk custom fields set on every created ticket; string values may use
    # {number}, {title}, {priority}, {service}, {client} and {status}.
    custom_fields: dict[str, Any] = Field(default_factory=dict, validation_alias="FRESHDESK_CUSTOM_FIELDS")
    # Notes Beacon adds to tickets (status updates, resolution, triage decisions). Private by
    # default: a public note on a customer's ticket emails the customer.
    public_notes: bool = Field(False, validation_alias="FRESHDESK_PUBLIC_NOTES")

    @field_validator("custom_fields", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        # The environment's JSON is decoded by pydantic-settings; a value given in code may be text.
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError("FRESHDESK_CUSTOM_FIELDS must be a JSON object such as "
                                 '{"cf_incident": "{number}"}') from None
        return value

    @field_validator("requester_email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = (value or "").strip()
        if value and "@" not in value:
            raise ValueError(f"FRESHDESK_REQUESTER_EMAIL {value!r} is not an email address")
        return value

    @property
    def alerts_token_value(self) -> str:
        return self.alerts_token.get_secret_value()

    @property
    def alerts_tokens(self) -> tuple[str, ...]:
        """Every token accepted now: more than one while a rotation is under way."""
        return accepted_values(self.alerts_token)
