"""Email and SMS effects: one message to one recipient each, so a bad address holds back nobody
else (each recipient has an ordering key of its own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.effects import ordering
from services.effects.base import KEY_ONLY, Channel, OutboxEffect


@dataclass(frozen=True)
class SendEmail(OutboxEffect):
    """Key `incident:<id>:<tag>:email:<address>` (tag: initial, update:3, report, …)."""

    kind = "email.send"
    channel = Channel.EMAIL
    incident_id: int | None = field(metadata=KEY_ONLY)
    tag: str = field(metadata=KEY_ONLY)
    address: str
    name: str
    subject: str
    html: str
    text: str
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:{self.tag}:email:{self.address.lower()}"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_email(self.incident_id, self.address)

    def payload(self) -> dict[str, Any]:
        return {"to": [[self.address, self.name]], "subject": self.subject, "html": self.html, "text": self.text,
                "description": self.description}


@dataclass(frozen=True)
class SendSms(OutboxEffect):
    """Key `incident:<id>:<tag>:sms:<number>`; the key also reaches the provider (idempotency)."""

    kind = "sms.send"
    channel = Channel.SMS
    incident_id: int | None = field(metadata=KEY_ONLY)
    tag: str = field(metadata=KEY_ONLY)
    to: str
    text: str
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:{self.tag}:sms:{self.to}"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_sms(self.incident_id, self.to)
